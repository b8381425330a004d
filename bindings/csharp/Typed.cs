// Typed rings: Producer<T> and Consumer<T> of a blittable struct T, whose size, alignment and declared name
// ([ShmringType("name")]) are checked against the segment by the C++ library (errc element_mismatch), as a C++
// opener's are. mcs (mono) has no `unmanaged` constraint: T is a struct checked at first use to be blittable
// with a sequential or explicit layout.
using System;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Shmring
{
    /// <summary>The element type's identity in the segment, as C++ shmring_type_name (1 to 40 bytes).</summary>
    [AttributeUsage(AttributeTargets.Struct)]
    public sealed class ShmringTypeAttribute : Attribute
    {
        public string Name { get; private set; }
        public ShmringTypeAttribute(string name) { Name = name; }
    }

    /// <summary>What the ring is told of T: size, alignment, name; computed once per T.</summary>
    internal static class Element<T> where T : struct
    {
        internal struct Description
        {
            public int Size;
            public int Align;
            public string TypeName;
            public NativeElement Native;
        }

        static readonly string problem;
        static readonly Description info;

        static Element()
        {
            Type t = typeof(T);
            if (!t.IsLayoutSequential && !t.IsExplicitLayout)
            {
                problem = t.Name + " needs [StructLayout(LayoutKind.Sequential)] (or Explicit)";
                return;
            }
            if (!IsBlittable(t))
            {
                problem = t.Name + " is not blittable (only numbers, pointers, enums and structs of them; no bool, " +
                          "char or reference)";
                return;
            }
            info.Size = Marshal.SizeOf(t);
            info.Align = AlignOf(t);
            object[] names = t.GetCustomAttributes(typeof(ShmringTypeAttribute), false);
            info.TypeName = names.Length == 0 ? null : ((ShmringTypeAttribute)names[0]).Name;
            info.Native.Size = (uint)info.Size;
            info.Native.Align = (uint)info.Align;
            info.Native.TypeName = info.TypeName == null ? IntPtr.Zero : CopyUtf8z(info.TypeName);
        }

        internal static Description Info
        {
            get
            {
                if (problem != null) throw new ShmringException(ErrorCode.InvalidArgument, "shmring: invalid_argument: " + problem);
                return info;
            }
        }

        internal static GCHandle Pin(T[] a) { return GCHandle.Alloc(a, GCHandleType.Pinned); }

        // Whether t's bytes are the same in managed and native memory, field by field (mono pins some arrays of
        // structs with references too, so pinning is no test).
        static bool IsBlittable(Type t)
        {
            if (t == typeof(bool) || t == typeof(char)) return false;
            if (t.IsEnum || t.IsPrimitive || t.IsPointer) return true;
            if (!t.IsValueType || (!t.IsLayoutSequential && !t.IsExplicitLayout)) return false;
            foreach (FieldInfo f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                if (!IsBlittable(f.FieldType)) return false;
            return true;
        }

        // The alignment the C compiler gives a struct of these fields: the largest field alignment, capped by Pack.
        static int AlignOf(Type t)
        {
            if (t.IsEnum) return AlignOf(Enum.GetUnderlyingType(t));
            if (t.IsPrimitive || t.IsPointer) return Marshal.SizeOf(t.IsPointer ? typeof(IntPtr) : t);
            int a = 1;
            foreach (FieldInfo f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                a = Math.Max(a, AlignOf(f.FieldType));
            StructLayoutAttribute l = t.StructLayoutAttribute;
            if (l != null && l.Pack != 0 && l.Pack < a) a = l.Pack;
            return a;
        }

        static IntPtr CopyUtf8z(string s)  // kept for the life of the process: one per element type
        {
            byte[] b = System.Text.Encoding.UTF8.GetBytes(s);
            IntPtr p = Marshal.AllocHGlobal(b.Length + 1);
            Marshal.Copy(b, 0, p, b.Length);
            Marshal.WriteByte(p, b.Length, 0);
            return p;
        }
    }

    internal delegate int OpenTyped(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h);

    /// <summary>Pins one element's buffer (for single pushes and pops) and an array for the batch calls.</summary>
    public abstract class TypedEndpoint<T> : Endpoint where T : struct
    {
        internal readonly T[] One = new T[1];
        readonly GCHandle onePin;
        internal readonly IntPtr OnePtr;
        internal readonly int Size;

        internal TypedEndpoint(IntPtr h, Func<IntPtr, int> close, Action<IntPtr> free) : base(h, close, free)
        {
            Size = Element<T>.Info.Size;
            onePin = Element<T>.Pin(One);
            OnePtr = onePin.AddrOfPinnedObject();
        }

        internal override void OnFree() { onePin.Free(); }

        internal static IntPtr Open(OpenTyped open, string name, ulong capacity, Options o)
        {
            NativeElement e = Element<T>.Info.Native;
            NativeOptions n = Native.OptionsOf(o);
            IntPtr h;
            Native.Check(open(Native.Utf8z(name), ref e, capacity, ref n, out h));
            return h;
        }

        /// <summary>Runs call with a pointer at values[offset], pinned for the call.</summary>
        internal int WithArray(T[] values, int offset, int count, Func<IntPtr, int> call)
        {
            if (values == null || offset < 0 || count < 0 || offset > values.Length - count)
                throw new ShmringException(ErrorCode.InvalidArgument, "shmring: invalid_argument: the range is outside the array");
            GCHandle pin = Element<T>.Pin(values);
            try { return call(pin.AddrOfPinnedObject() + offset * Size); }
            finally { pin.Free(); }
        }
    }

    /// <summary>The producing side of a typed ring of T. One thread uses it.</summary>
    public sealed class Producer<T> : TypedEndpoint<T> where T : struct
    {
        Producer(IntPtr h) : base(h, Native.shmring_producer_close, Native.shmring_producer_free) { }

        static int OpenOnly(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h)
        { return Native.shmring_producer_open(name, ref e, ref o, out h); }

        /// <summary>Creates the ring of capacity (a power of two) elements and attaches as its producer.</summary>
        public static Producer<T> Create(string name, ulong capacity, Options o = null)
        { return new Producer<T>(Open(Native.shmring_producer_create, name, capacity, o)); }
        /// <summary>Opens an existing ring of T (ElementMismatch for another size, alignment or name).</summary>
        public static Producer<T> Open(string name, Options o = null)
        { return new Producer<T>(Open(OpenOnly, name, 0, o)); }
        public static Producer<T> OpenOrCreate(string name, ulong capacity, Options o = null)
        { return new Producer<T>(Open(Native.shmring_producer_open_or_create, name, capacity, o)); }

        /// <summary>Pushes v if there is room now.</summary>
        public bool TryPush(T v)
        {
            One[0] = v;
            return Native.Check(Native.shmring_producer_try_push(Handle, OnePtr)) == Native.Ok;
        }
        /// <summary>Pushes v, waiting while the ring is full.</summary>
        public void Push(T v)
        {
            One[0] = v;
            Native.Check(Native.shmring_producer_push(Handle, OnePtr));
        }
        /// <summary>As Push, waiting at most timeout: false when it ran out.</summary>
        public bool Push(T v, TimeSpan timeout)
        {
            One[0] = v;
            return Native.Check(Native.shmring_producer_push_for(Handle, OnePtr, Native.NanosecondsOf(timeout))) == Native.Ok;
        }
        /// <summary>Pushes as many of values[offset .. offset+count) as fit now; returns how many.</summary>
        public int TryPushN(T[] values, int offset, int count)
        {
            return WithArray(values, offset, count, p => {
                ulong n;
                Native.Check(Native.shmring_producer_try_push_n(Handle, p, (ulong)count, out n));
                return (int)n;
            });
        }
        /// <summary>Pushes all of values[offset .. offset+count), waiting for room.</summary>
        public void PushN(T[] values, int offset, int count)
        {
            WithArray(values, offset, count, p => Native.Check(Native.shmring_producer_push_n(Handle, p, (ulong)count)));
        }
        public void PushN(T[] values) { PushN(values, 0, values == null ? 0 : values.Length); }

        public ulong Capacity { get { return Native.shmring_producer_capacity(Handle); } }
        /// <summary>Elements pushed into this ring since it was created.</summary>
        public ulong Pushed { get { return Native.shmring_producer_pushed(Handle); } }
        public PeerState ConsumerState { get { return (PeerState)Native.shmring_producer_consumer_state(Handle); } }
    }

    /// <summary>The consuming side of a typed ring of T. One thread uses it.</summary>
    public sealed class Consumer<T> : TypedEndpoint<T> where T : struct
    {
        Consumer(IntPtr h) : base(h, Native.shmring_consumer_close, Native.shmring_consumer_free) { }

        static int OpenOnly(byte[] name, ref NativeElement e, ulong capacity, ref NativeOptions o, out IntPtr h)
        { return Native.shmring_consumer_open(name, ref e, ref o, out h); }

        public static Consumer<T> Create(string name, ulong capacity, Options o = null)
        { return new Consumer<T>(Open(Native.shmring_consumer_create, name, capacity, o)); }
        public static Consumer<T> Open(string name, Options o = null)
        { return new Consumer<T>(Open(OpenOnly, name, 0, o)); }
        public static Consumer<T> OpenOrCreate(string name, ulong capacity, Options o = null)
        { return new Consumer<T>(Open(Native.shmring_consumer_open_or_create, name, capacity, o)); }

        /// <summary>The oldest element if there is one now.</summary>
        public bool TryPop(out T v)
        {
            bool ok = Native.Check(Native.shmring_consumer_try_pop(Handle, OnePtr)) == Native.Ok;
            v = ok ? One[0] : default(T);
            return ok;
        }
        /// <summary>The oldest element, waiting for one. Throws Closed after the last element of a closed stream.</summary>
        public T Pop()
        {
            Native.Check(Native.shmring_consumer_pop(Handle, OnePtr));
            return One[0];
        }
        /// <summary>As Pop, waiting at most timeout: false when it ran out.</summary>
        public bool Pop(TimeSpan timeout, out T v)
        {
            bool ok = Native.Check(Native.shmring_consumer_pop_for(Handle, OnePtr, Native.NanosecondsOf(timeout))) == Native.Ok;
            v = ok ? One[0] : default(T);
            return ok;
        }
        /// <summary>Copies up to count of the oldest elements to buffer[offset ..]; returns how many (0: none now).</summary>
        public int TryPopN(T[] buffer, int offset, int count)
        {
            return WithArray(buffer, offset, count, p => {
                ulong n;
                Native.Check(Native.shmring_consumer_try_pop_n(Handle, p, (ulong)count, out n));
                return (int)n;
            });
        }
        /// <summary>Copies at least one and up to count elements to buffer[offset ..], waiting for the first.</summary>
        public int PopN(T[] buffer, int offset, int count)
        {
            return WithArray(buffer, offset, count, p => {
                ulong n;
                Native.Check(Native.shmring_consumer_pop_n(Handle, p, (ulong)count, out n));
                return (int)n;
            });
        }

        public ulong Capacity { get { return Native.shmring_consumer_capacity(Handle); } }
        /// <summary>Elements popped from this ring since it was created.</summary>
        public ulong Popped { get { return Native.shmring_consumer_popped(Handle); } }
        public PeerState ProducerState { get { return (PeerState)Native.shmring_consumer_producer_state(Handle); } }
    }
}
