// Message rings: MessageProducer, MessageConsumer and the Message they carry (BitRPC's spellings: SendString,
// SendTyped, ReceiveString, ReceiveTyped).
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Shmring
{
    /// <summary>A received message, owning a copy of its payload.</summary>
    public sealed class Message
    {
        public byte[] Payload { get; internal set; }
        public uint Type { get; internal set; }
        public MessageFlags Flags { get; internal set; }
        public ulong Sequence { get; internal set; }
        public ulong TimestampNs { get; internal set; }
        /// <summary>The payload as UTF-8 text.</summary>
        public string Text { get { return Encoding.UTF8.GetString(Payload); } }
    }

    /// <summary>A received message in place (zero copy): Data points at Length bytes in the ring, valid until
    /// MessageConsumer.Release().</summary>
    public struct MessageView
    {
        public IntPtr Data;
        public int Length;
        public uint Type;
        public MessageFlags Flags;
        public ulong Sequence;
        public ulong TimestampNs;

        /// <summary>A copy of the payload.</summary>
        public byte[] ToArray()
        {
            byte[] b = new byte[Length];
            if (Length != 0) Marshal.Copy(Data, b, 0, Length);
            return b;
        }

        internal static MessageView Of(IntPtr p, NativeMessageInfo i)
        {
            return new MessageView { Data = p, Length = checked((int)i.Length), Type = i.Type, Flags = (MessageFlags)i.Flags,
                                     Sequence = i.Sequence, TimestampNs = i.TimestampNs };
        }
    }

    internal delegate int OpenMessageRing(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);

    internal static class MessageRings
    {
        /// <summary>The handle one of the C ABI's create / open / open_or_create calls gives, or its exception.</summary>
        internal static IntPtr Open(OpenMessageRing open, string name, ulong capacity, Options o)
        {
            NativeOptions n = Native.OptionsOf(o);
            IntPtr h;
            Native.Check(open(Native.Utf8z(name), capacity, ref n, out h));
            return h;
        }
    }

    /// <summary>The producing side of a message ring. One thread uses it.</summary>
    public sealed class MessageProducer : Endpoint
    {
        MessageProducer(IntPtr h)
            : base(h, Native.shmring_message_producer_close, Native.shmring_message_producer_free) { }

        static MessageProducer Make(OpenMessageRing open, string name, ulong capacity, Options o)
        {
            return new MessageProducer(MessageRings.Open(open, name, capacity, o));
        }

        /// <summary>Creates the ring with capacity data bytes (a power of two) and attaches as its producer.</summary>
        public static MessageProducer Create(string name, ulong capacity, Options o = null)
        { return Make(Native.shmring_message_producer_create, name, capacity, o); }
        /// <summary>Opens an existing ring (capacity 0: whatever it has).</summary>
        public static MessageProducer Open(string name, ulong capacity = 0, Options o = null)
        { return Make(Native.shmring_message_producer_open, name, capacity, o); }
        /// <summary>Opens the ring, or creates it with capacity bytes if there is none.</summary>
        public static MessageProducer OpenOrCreate(string name, ulong capacity, Options o = null)
        { return Make(Native.shmring_message_producer_open_or_create, name, capacity, o); }

        /// <summary>Sends payload, waiting for room (a message larger than the ring goes out in fragments).</summary>
        public void Send(byte[] payload, uint type = 1, uint flags = 0)
        {
            Send(payload, 0, NonNull(payload).Length, type, flags);
        }

        /// <summary>Sends payload[offset .. offset+count) as one message, waiting for room.</summary>
        public unsafe void Send(byte[] payload, int offset, int count, uint type = 1, uint flags = 0)
        {
            if (NonNull(payload) != null && (offset < 0 || count < 0 || offset > payload.Length - count))
                throw new ShmringException(ErrorCode.InvalidArgument, "shmring: invalid_argument: the range is outside the payload");
            fixed (byte* p = payload)
                Native.Check(Native.shmring_message_producer_send(Handle, p + offset, (ulong)count, type, flags));
        }

        /// <summary>Sends payload if it fits now; false when it does not (nothing sent).</summary>
        public unsafe bool TrySend(byte[] payload, uint type = 1, uint flags = 0)
        {
            fixed (byte* p = NonNull(payload))
                return Native.Check(Native.shmring_message_producer_try_send(Handle, p, (ulong)payload.Length, type, flags)) == Native.Ok;
        }

        /// <summary>As Send, waiting at most timeout: false when it ran out (the message is not delivered).</summary>
        public unsafe bool Send(byte[] payload, TimeSpan timeout, uint type = 1, uint flags = 0)
        {
            fixed (byte* p = NonNull(payload))
                return Native.Check(Native.shmring_message_producer_send_for(Handle, p, (ulong)payload.Length, type, flags,
                                                                             Native.NanosecondsOf(timeout))) == Native.Ok;
        }

        /// <summary>Sends the UTF-8 bytes of s.</summary>
        public void SendString(string s, uint type = 1, uint flags = 0)
        {
            if (s == null) throw new ShmringException(ErrorCode.InvalidArgument, "shmring: invalid_argument: the string is null");
            Send(Encoding.UTF8.GetBytes(s), type, flags);
        }

        /// <summary>Sends the bytes of a blittable struct (receive with ReceiveTyped, or C++ receive_typed).</summary>
        public unsafe void SendTyped<T>(T value, uint type = 1, uint flags = 0) where T : struct
        {
            int size = Element<T>.Info.Size;
            T[] one = new T[] { value };
            GCHandle pin = Element<T>.Pin(one);
            try
            {
                Native.Check(Native.shmring_message_producer_send(Handle, (byte*)pin.AddrOfPinnedObject(), (ulong)size, type, flags));
            }
            finally { pin.Free(); }
        }

        public ulong Capacity { get { return Native.shmring_message_producer_capacity(Handle); } }
        /// <summary>Messages completely sent into this ring (by every producer that attached).</summary>
        public ulong Sent { get { return Native.shmring_message_producer_sent(Handle); } }
        public PeerState ConsumerState { get { return (PeerState)Native.shmring_message_producer_consumer_state(Handle); } }

        static byte[] NonNull(byte[] payload)
        {
            if (payload == null) throw new ShmringException(ErrorCode.InvalidArgument, "shmring: invalid_argument: the payload is null");
            return payload;
        }
    }

    /// <summary>The consuming side of a message ring. One thread uses it.</summary>
    public sealed class MessageConsumer : Endpoint
    {
        MessageConsumer(IntPtr h)
            : base(h, Native.shmring_message_consumer_close, Native.shmring_message_consumer_free) { }

        static MessageConsumer Make(OpenMessageRing open, string name, ulong capacity, Options o)
        {
            return new MessageConsumer(MessageRings.Open(open, name, capacity, o));
        }

        public static MessageConsumer Create(string name, ulong capacity, Options o = null)
        { return Make(Native.shmring_message_consumer_create, name, capacity, o); }
        public static MessageConsumer Open(string name, ulong capacity = 0, Options o = null)
        { return Make(Native.shmring_message_consumer_open, name, capacity, o); }
        public static MessageConsumer OpenOrCreate(string name, ulong capacity, Options o = null)
        { return Make(Native.shmring_message_consumer_open_or_create, name, capacity, o); }

        /// <summary>The next message, waiting for it. Throws Closed after the last message of a closed stream,
        /// PeerDead when the producer died.</summary>
        public Message Receive()
        {
            IntPtr p;
            NativeMessageInfo i;
            Native.Check(Native.shmring_message_consumer_read(Handle, out p, out i));
            return Take(p, i);
        }

        /// <summary>The next message if one is complete now.</summary>
        public bool TryReceive(out Message m)
        {
            IntPtr p;
            NativeMessageInfo i;
            m = Native.Check(Native.shmring_message_consumer_try_read(Handle, out p, out i)) == Native.Ok ? Take(p, i) : null;
            return m != null;
        }

        /// <summary>As Receive, waiting at most timeout: false when it ran out.</summary>
        public bool Receive(TimeSpan timeout, out Message m)
        {
            IntPtr p;
            NativeMessageInfo i;
            int rc = Native.Check(Native.shmring_message_consumer_read_for(Handle, Native.NanosecondsOf(timeout), out p, out i));
            m = rc == Native.Ok ? Take(p, i) : null;
            return m != null;
        }

        /// <summary>The next message in place (zero copy), waiting for it; valid until Release(), which must come
        /// before any other receive.</summary>
        public MessageView Read()
        {
            IntPtr p;
            NativeMessageInfo i;
            Native.Check(Native.shmring_message_consumer_read(Handle, out p, out i));
            return MessageView.Of(p, i);
        }

        /// <summary>The next message in place if one is complete now.</summary>
        public bool TryRead(out MessageView v)
        {
            IntPtr p;
            NativeMessageInfo i;
            bool ok = Native.Check(Native.shmring_message_consumer_try_read(Handle, out p, out i)) == Native.Ok;
            v = ok ? MessageView.Of(p, i) : default(MessageView);
            return ok;
        }

        /// <summary>Frees the message Read() returned.</summary>
        public void Release() { Native.Check(Native.shmring_message_consumer_release(Handle)); }

        /// <summary>The next message's payload as UTF-8 text, waiting for it.</summary>
        public string ReceiveString() { return Receive().Text; }

        /// <summary>The next message's payload as a T, waiting for it. Throws TypeMismatch (and leaves the message
        /// where it is) unless the payload has exactly the size of T.</summary>
        public T ReceiveTyped<T>() where T : struct
        {
            IntPtr p;
            NativeMessageInfo i;
            Native.Check(Native.shmring_message_consumer_read(Handle, out p, out i));
            int size = Element<T>.Info.Size;
            if (i.Length != (ulong)size)
                throw new ShmringException(ErrorCode.TypeMismatch, "shmring: type_mismatch: the message has " + i.Length +
                                           " bytes, " + typeof(T).Name + " has " + size);
            T[] one = new T[1];
            GCHandle pin = Element<T>.Pin(one);
            try
            {
                unsafe { Buffer.MemoryCopy((void*)p, (void*)pin.AddrOfPinnedObject(), size, size); }
            }
            finally { pin.Free(); }
            Native.Check(Native.shmring_message_consumer_release(Handle));
            return one[0];
        }

        public ulong Capacity { get { return Native.shmring_message_consumer_capacity(Handle); } }
        /// <summary>Messages received from this ring (by every consumer that attached).</summary>
        public ulong Received { get { return Native.shmring_message_consumer_received(Handle); } }
        public PeerState ProducerState { get { return (PeerState)Native.shmring_message_consumer_producer_state(Handle); } }

        // Copies the message read in place, then releases it.
        Message Take(IntPtr p, NativeMessageInfo i)
        {
            byte[] payload = new byte[checked((int)i.Length)];
            if (payload.Length != 0) Marshal.Copy(p, payload, 0, payload.Length);
            Native.Check(Native.shmring_message_consumer_release(Handle));
            return new Message { Payload = payload, Type = i.Type, Flags = (MessageFlags)i.Flags, Sequence = i.Sequence,
                                 TimestampNs = i.TimestampNs };
        }
    }
}
