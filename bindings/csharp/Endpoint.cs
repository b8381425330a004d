// What the four endpoint classes share: the native handle, its end (Close, Dispose, the finalizer) and the check
// of a closed or disposed object.
using System;

namespace Shmring
{
    public abstract class Endpoint : IDisposable
    {
        IntPtr handle;
        readonly Func<IntPtr, int> close;
        readonly Action<IntPtr> free;

        internal Endpoint(IntPtr handle, Func<IntPtr, int> close, Action<IntPtr> free)
        {
            this.handle = handle;
            this.close = close;
            this.free = free;
        }

        /// <summary>The native handle; ObjectDisposedException once disposed.</summary>
        internal IntPtr Handle
        {
            get
            {
                if (handle == IntPtr.Zero) throw new ObjectDisposedException(GetType().Name);
                return handle;
            }
        }

        /// <summary>Ends this side for good (C++ close()): a producer ends its stream, a consumer leaves. The object
        /// is unusable afterwards (calls throw ShmringException InvalidArgument until it is disposed).</summary>
        public void Close() { Native.Check(close(Handle)); }

        /// <summary>Detaches (if not closed) and frees the native endpoint.</summary>
        public void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        ~Endpoint() { Free(); }

        void Free()
        {
            IntPtr h = handle;
            handle = IntPtr.Zero;
            if (h != IntPtr.Zero)
            {
                free(h);
                OnFree();
            }
        }

        /// <summary>After the native endpoint was freed: what a subclass holds besides it (pinned buffers).</summary>
        internal virtual void OnFree() { }
    }
}
