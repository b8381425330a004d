// The C ABI (include/shmring/c/shmring.h) as P/Invoke declarations. The library name "shmring_c" is mapped to
// the built or installed libshmring_c.so by Shmring.dll.config (a mono dllmap next to Shmring.dll).
using System;
using System.Runtime.InteropServices;

namespace Shmring
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeOptions
    {
        public long OpenTimeoutNs;
        public uint Persistent;
        public uint Timestamps;
        public uint SlotLayout;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeElement
    {
        public uint Size;
        public uint Align;
        public IntPtr TypeName;  // a zero-terminated UTF-8 string, or zero
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeMessageInfo
    {
        public ulong Sequence;
        public ulong TimestampNs;
        public ulong Length;
        public uint Type;
        public uint Flags;
    }

    internal static class Native
    {
        const string Lib = "shmring_c";

        // Outcomes that are no errors (shmring.h).
        internal const int Ok = 0, WouldBlock = 1000, TimedOut = 1001, BufferTooSmall = 1002;

        [DllImport(Lib)] internal static extern IntPtr shmring_last_error();
        [DllImport(Lib)] internal static extern void shmring_options_init(ref NativeOptions o);
        [DllImport(Lib)] internal static extern int shmring_remove(byte[] name);

        // message producer
        [DllImport(Lib)] internal static extern int shmring_message_producer_create(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_producer_open(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_producer_open_or_create(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern unsafe int shmring_message_producer_try_send(IntPtr h, byte* data, ulong length, uint type, uint flags);
        [DllImport(Lib)] internal static extern unsafe int shmring_message_producer_send(IntPtr h, byte* data, ulong length, uint type, uint flags);
        [DllImport(Lib)] internal static extern unsafe int shmring_message_producer_send_for(IntPtr h, byte* data, ulong length, uint type, uint flags, long timeoutNs);
        [DllImport(Lib)] internal static extern ulong shmring_message_producer_capacity(IntPtr h);
        [DllImport(Lib)] internal static extern ulong shmring_message_producer_sent(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_producer_consumer_state(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_producer_close(IntPtr h);
        [DllImport(Lib)] internal static extern void shmring_message_producer_free(IntPtr h);

        // message consumer
        [DllImport(Lib)] internal static extern int shmring_message_consumer_create(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_open(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_open_or_create(byte[] name, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_try_read(IntPtr h, out IntPtr payload, out NativeMessageInfo info);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_read(IntPtr h, out IntPtr payload, out NativeMessageInfo info);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_read_for(IntPtr h, long timeoutNs, out IntPtr payload, out NativeMessageInfo info);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_release(IntPtr h);
        [DllImport(Lib)] internal static extern ulong shmring_message_consumer_capacity(IntPtr h);
        [DllImport(Lib)] internal static extern ulong shmring_message_consumer_received(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_producer_state(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_message_consumer_close(IntPtr h);
        [DllImport(Lib)] internal static extern void shmring_message_consumer_free(IntPtr h);

        // typed producer
        [DllImport(Lib)] internal static extern int shmring_producer_create(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_producer_open(byte[] name, ref NativeElement e, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_producer_open_or_create(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_producer_try_push(IntPtr h, IntPtr element);
        [DllImport(Lib)] internal static extern int shmring_producer_push(IntPtr h, IntPtr element);
        [DllImport(Lib)] internal static extern int shmring_producer_push_for(IntPtr h, IntPtr element, long timeoutNs);
        [DllImport(Lib)] internal static extern int shmring_producer_try_push_n(IntPtr h, IntPtr elements, ulong n, out ulong pushed);
        [DllImport(Lib)] internal static extern int shmring_producer_push_n(IntPtr h, IntPtr elements, ulong n);
        [DllImport(Lib)] internal static extern ulong shmring_producer_capacity(IntPtr h);
        [DllImport(Lib)] internal static extern ulong shmring_producer_pushed(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_producer_consumer_state(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_producer_close(IntPtr h);
        [DllImport(Lib)] internal static extern void shmring_producer_free(IntPtr h);

        // typed consumer
        [DllImport(Lib)] internal static extern int shmring_consumer_create(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_consumer_open(byte[] name, ref NativeElement e, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_consumer_open_or_create(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_consumer_try_pop(IntPtr h, IntPtr output);
        [DllImport(Lib)] internal static extern int shmring_consumer_pop(IntPtr h, IntPtr output);
        [DllImport(Lib)] internal static extern int shmring_consumer_pop_for(IntPtr h, IntPtr output, long timeoutNs);
        [DllImport(Lib)] internal static extern int shmring_consumer_try_pop_n(IntPtr h, IntPtr output, ulong max, out ulong popped);
        [DllImport(Lib)] internal static extern int shmring_consumer_pop_n(IntPtr h, IntPtr output, ulong max, out ulong popped);
        [DllImport(Lib)] internal static extern ulong shmring_consumer_capacity(IntPtr h);
        [DllImport(Lib)] internal static extern ulong shmring_consumer_popped(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_consumer_producer_state(IntPtr h);
        [DllImport(Lib)] internal static extern int shmring_consumer_close(IntPtr h);
        [DllImport(Lib)] internal static extern void shmring_consumer_free(IntPtr h);

        /// A zero-terminated UTF-8 copy of s.
        internal static byte[] Utf8z(string s)
        {
            if (s == null) throw new ShmringException(ErrorCode.InvalidArgument, "shmring: invalid_argument: the name is null");
            byte[] b = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
            System.Text.Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// This thread's message for the last failed call.
        internal static string LastError()
        {
            IntPtr p = shmring_last_error();
            if (p == IntPtr.Zero) return "";
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) ++n;
            byte[] b = new byte[n];
            Marshal.Copy(p, b, 0, n);
            return System.Text.Encoding.UTF8.GetString(b);
        }

        /// Throws the ShmringException of an error code; returns the outcomes that are no errors.
        internal static int Check(int rc)
        {
            if (rc == Ok || rc == WouldBlock || rc == TimedOut || rc == BufferTooSmall) return rc;
            throw new ShmringException((ErrorCode)rc, LastError());
        }

        internal static NativeOptions OptionsOf(Options o)
        {
            NativeOptions n = new NativeOptions();
            shmring_options_init(ref n);
            if (o != null)
            {
                n.OpenTimeoutNs = NanosecondsOf(o.OpenTimeout);
                n.Persistent = o.Persistent ? 1u : 0u;
                n.Timestamps = o.Timestamps ? 1u : 0u;
                n.SlotLayout = (uint)o.Slots;
            }
            return n;
        }

        /// A TimeSpan as the ABI's nanoseconds (saturated; TimeSpan.MaxValue waits for ever).
        internal static long NanosecondsOf(TimeSpan t)
        {
            if (t.Ticks >= long.MaxValue / 100) return long.MaxValue;
            if (t.Ticks <= long.MinValue / 100) return long.MinValue;
            return t.Ticks * 100;
        }
    }
}
