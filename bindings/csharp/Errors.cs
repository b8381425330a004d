// Errors and plain values of the C# binding: the error codes (the C++ errc, same numbers), ShmringException, peer
// states, message flags and options.
using System;

namespace Shmring
{
    /// <summary>The C++ errc values (include/shmring/error.hpp).</summary>
    public enum ErrorCode
    {
        Ok = 0, InvalidName = 1, InvalidArgument = 2, NotFound = 3, AlreadyExists = 4, PermissionDenied = 5,
        NotReady = 6, BadMagic = 7, VersionMismatch = 8, KindMismatch = 9, ElementMismatch = 10,
        CapacityMismatch = 11, LayoutMismatch = 12, Truncated = 13, AlreadyAttached = 14, PeerDead = 15,
        Corrupted = 16, MessageTooLarge = 17, TypeMismatch = 18, SystemError = 19, NoSpace = 20,
        NotASegment = 21, Closed = 22, Inherited = 23, LimitExceeded = 24, Unsupported = 25,
    }

    /// <summary>Every shmring failure: Code says which, Message what the C++ library said.</summary>
    public class ShmringException : Exception
    {
        public ErrorCode Code { get; private set; }
        public ShmringException(ErrorCode code, string message) : base(message) { Code = code; }
    }

    /// <summary>The other side of a ring: attached and alive, never attached or detached, dead, or closed.</summary>
    public enum PeerState { Alive = 0, Absent = 1, Dead = 2, Closed = 3 }

    /// <summary>The flags a sender sets on a message (carried, not interpreted).</summary>
    [Flags]
    public enum MessageFlags : uint { None = 0, Urgent = 1, Compressed = 2, Encrypted = 4 }

    /// <summary>How a ring is created or opened (the C++ shmring::options).</summary>
    public sealed class Options
    {
        /// <summary>How long Open waits for a creator still setting the segment up.</summary>
        public TimeSpan OpenTimeout = TimeSpan.FromSeconds(2);
        /// <summary>Keep the segment when both sides have left it empty.</summary>
        public bool Persistent = false;
        /// <summary>Message producers: stamp each message with CLOCK_MONOTONIC.</summary>
        public bool Timestamps = true;
        /// <summary>Typed creators: the ring's slot format (openers accept either).</summary>
        public SlotLayout Slots = SlotLayout.Turn;
    }

    /// <summary>The slot format a typed ring is created with (C++ shmring::slots, C SHMRING_SLOTS_*).</summary>
    public enum SlotLayout : uint
    {
        /// <summary>The default: a turn word next to each element that fits a cache line with it (one line per
        /// hand-off).</summary>
        Turn = 0,
        /// <summary>Elements back to back, no turn word: the densest, for rings used with PushN / PopN.</summary>
        Packed = 1,
    }

    /// <summary>Removes a ring's segment; false when there was none.</summary>
    public static class Ring
    {
        public static bool Remove(string name)
        {
            int rc = Native.shmring_remove(Native.Utf8z(name));
            if (rc == (int)ErrorCode.NotFound) return false;
            Native.Check(rc);
            return true;
        }
    }
}
