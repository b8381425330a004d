// The C# binding's tests: message and typed round trips between two processes (this program re-run by mono as
// the producer), every value checked; refusals (wrong struct size, alignment or name, a struct that is not
// blittable or sequential, a name that does not exist, a second producer); closed and disposed objects.
// A plain test program: each failed check prints its line; exit 0 only when all passed. Every segment it makes is
// removed at the end, whatever failed.
//   mono shmring_tests.exe <mono>            (the parent)
using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Shmring;

[StructLayout(LayoutKind.Sequential)]
[ShmringType("xlang.record/v1")]
struct Rec
{
    public int Id;
    public double Value;
}

[StructLayout(LayoutKind.Sequential)]
[ShmringType("xlang.record/v1")]
struct Rec24
{
    public int Id;
    public double Value;
    public long Extra;
}

[StructLayout(LayoutKind.Sequential, Pack = 4)]
[ShmringType("xlang.record/v1")]
struct RecPacked
{
    public int Id;
    public int Pad;
    public double Value;
}

[StructLayout(LayoutKind.Sequential)]
[ShmringType("xlang.other/v1")]
struct RecOther
{
    public int Id;
    public double Value;
}

[StructLayout(LayoutKind.Sequential)]
struct NotBlittable
{
    public string Text;
}

[StructLayout(LayoutKind.Auto)]
struct AutoLayout
{
    public int A;
    public double B;
}

static class ShmringTests
{
    const int MessageCount = 20000, RecordCount = 200000;
    static int failures;

    static void Check(bool ok, string what, [CallerLineNumber] int line = 0)
    {
        if (ok) return;
        ++failures;
        Console.Error.WriteLine("ShmringTests.cs:" + line + ": check failed: " + what);
    }

    static ErrorCode CodeOf(Action a)
    {
        try { a(); }
        catch (ShmringException e) { return e.Code; }
        return ErrorCode.Ok;
    }

    static int LengthOf(int i) { return (int)((uint)i * 2654435761u % 3000u); }
    static byte[] PayloadOf(int i)
    {
        byte[] b = new byte[LengthOf(i)];
        for (int j = 0; j < b.Length; ++j) b[j] = unchecked((byte)(i * 31 + j * 7));
        return b;
    }
    static uint TypeOf(int i) { return 1u + (uint)(i % 7); }
    static uint FlagsOf(int i) { return (uint)(i % 8); }
    static Rec RecOf(long k) { return new Rec { Id = (int)(k & 0x7fffffff), Value = k * 0.5 }; }

    static bool Same(byte[] a, byte[] b)
    {
        if (a.Length != b.Length) return false;
        for (int j = 0; j < a.Length; ++j)
            if (a[j] != b[j]) return false;
        return true;
    }

    // ---- children -------------------------------------------------------------------------------------------
    // Every 6th message in each form: Send, TrySend (looping), Send with a timeout, SendString, SendTyped and the
    // offset/count form; then the stream is closed.
    static int MessageChild(string name)
    {
        using (MessageProducer p = MessageProducer.Open(name))
        {
            for (int i = 0; i < MessageCount; ++i)
            {
                byte[] b = PayloadOf(i);
                switch (i % 6)
                {
                    case 0: p.Send(b, TypeOf(i), FlagsOf(i)); break;
                    case 1: while (!p.TrySend(b, TypeOf(i), FlagsOf(i))) { } break;
                    case 2: if (!p.Send(b, TimeSpan.MaxValue, TypeOf(i), FlagsOf(i))) return 3; break;
                    case 3: p.SendString("message " + i, TypeOf(i), FlagsOf(i)); break;
                    case 4: p.SendTyped(RecOf(i), TypeOf(i), FlagsOf(i)); break;
                    default:
                        byte[] wide = new byte[b.Length + 10];
                        Array.Copy(b, 0, wide, 5, b.Length);
                        p.Send(wide, 5, b.Length, TypeOf(i), FlagsOf(i));
                        break;
                }
            }
            if (p.Sent != MessageCount) return 4;
            p.Close();
        }
        return 0;
    }

    static int TypedChild(string name)
    {
        using (Producer<Rec> p = Producer<Rec>.Open(name))
        {
            Rec[] buf = new Rec[37];
            for (long k = 0; k < RecordCount;)
            {
                int n = (int)Math.Min(buf.Length, RecordCount - k);
                for (int j = 0; j < n; ++j) buf[j] = RecOf(k + j);
                switch ((k / 37) % 4)
                {
                    case 0: p.PushN(buf, 0, n); break;
                    case 1: for (int j = 0; j < n; ++j) p.Push(buf[j]); break;
                    case 2: for (int j = 0; j < n; ++j) while (!p.TryPush(buf[j])) { } break;
                    default:
                        for (int done = 0; done < n;) done += p.TryPushN(buf, done, n - done);
                        break;
                }
                k += n;
            }
            if (p.Pushed != RecordCount) return 5;
            p.Close();
        }
        return 0;
    }

    static Process Start(string mono, string role, string name)
    {
        string exe = typeof(ShmringTests).Assembly.Location;
        ProcessStartInfo si = new ProcessStartInfo(mono, "\"" + exe + "\" " + role + " " + name);
        si.UseShellExecute = false;
        return Process.Start(si);
    }

    // ---- tests ----------------------------------------------------------------------------------------------
    static void MessagesAcrossProcesses(string mono, string name)
    {
        using (MessageConsumer c = MessageConsumer.Create(name, 8192))
        {
            Message none;
            Check(!c.TryReceive(out none) && none == null, "an empty ring has nothing to receive");
            Check(!c.Receive(TimeSpan.FromMilliseconds(1), out none), "a timed receive on an empty ring times out");
            Process child = Start(mono, "message-child", name);
            int bad = 0;
            for (int i = 0; i < MessageCount; ++i)
            {
                Message m = null;
                byte[] want = i % 6 == 3 ? Encoding.UTF8.GetBytes("message " + i) : PayloadOf(i);
                switch (i % 5)
                {
                    case 0: m = c.Receive(); break;
                    case 1: while (!c.TryReceive(out m)) { } break;
                    case 2: if (!c.Receive(TimeSpan.MaxValue, out m)) ++bad; break;
                    case 3:
                        if (i % 6 == 4)
                        {
                            // A typed message read as a string first would be consumed: read it typed instead.
                            Rec r = c.ReceiveTyped<Rec>();
                            if (r.Id != RecOf(i).Id || r.Value != RecOf(i).Value) ++bad;
                            continue;
                        }
                        if (i % 6 == 3) { if (c.ReceiveString() != "message " + i) ++bad; continue; }
                        m = c.Receive();
                        break;
                    default:
                        MessageView v = c.Read();
                        m = new Message();
                        if (v.Sequence != (ulong)i || v.Type != TypeOf(i) || (uint)v.Flags != FlagsOf(i)) ++bad;
                        byte[] copy = v.ToArray();
                        c.Release();
                        if (i % 6 == 4)
                        {
                            Rec r;
                            GCHandle h = GCHandle.Alloc(copy, GCHandleType.Pinned);
                            r = (Rec)Marshal.PtrToStructure(h.AddrOfPinnedObject(), typeof(Rec));
                            h.Free();
                            if (copy.Length != 16 || r.Id != RecOf(i).Id || r.Value != RecOf(i).Value) ++bad;
                        }
                        else if (!Same(copy, want)) ++bad;
                        continue;
                }
                if (m == null) { ++bad; break; }
                if (m.Sequence != (ulong)i || m.Type != TypeOf(i) || (uint)m.Flags != FlagsOf(i)) ++bad;
                if (i % 6 == 4)
                {
                    if (m.Payload.Length != 16) ++bad;
                }
                else if (!Same(m.Payload, want)) ++bad;
            }
            Check(bad == 0, bad + " messages were wrong");
            Check(CodeOf(() => c.Receive()) == ErrorCode.Closed, "after the last message of a closed stream: Closed");
            Check(c.ProducerState == PeerState.Closed, "the producer closed");
            Check(c.Received == MessageCount, "every message counted");
            child.WaitForExit();
            Check(child.ExitCode == 0, "the message producer exited with " + child.ExitCode);
            c.Close();
            Check(CodeOf(() => c.Receive()) == ErrorCode.InvalidArgument, "a closed consumer refuses");
        }
    }

    static void TypedAcrossProcesses(string mono, string name)
    {
        using (Consumer<Rec> c = Consumer<Rec>.Create(name, 64))
        {
            Check(c.Capacity == 64, "capacity");
            Process child = Start(mono, "typed-child", name);
            Rec[] buf = new Rec[64];
            int bad = 0;
            for (long k = 0; k < RecordCount;)
            {
                Rec r;
                switch ((k / 29) % 4)
                {
                    case 0: r = c.Pop(); if (r.Id != RecOf(k).Id || r.Value != RecOf(k).Value) ++bad; ++k; break;
                    case 1: while (!c.TryPop(out r)) { } if (r.Id != RecOf(k).Id || r.Value != RecOf(k).Value) ++bad; ++k; break;
                    case 2:
                        if (!c.Pop(TimeSpan.MaxValue, out r)) { ++bad; k = RecordCount; break; }
                        if (r.Id != RecOf(k).Id || r.Value != RecOf(k).Value) ++bad;
                        ++k;
                        break;
                    default:
                        int n = c.PopN(buf, 0, (int)Math.Min(buf.Length, RecordCount - k));
                        for (int j = 0; j < n; ++j, ++k)
                            if (buf[j].Id != RecOf(k).Id || buf[j].Value != RecOf(k).Value) ++bad;
                        break;
                }
            }
            Check(bad == 0, bad + " records were wrong");
            Check(CodeOf(() => c.Pop()) == ErrorCode.Closed, "after the last element of a closed stream: Closed");
            Check(c.Popped == RecordCount, "every element counted");
            child.WaitForExit();
            Check(child.ExitCode == 0, "the typed producer exited with " + child.ExitCode);
        }
    }

    static void Refusals(string name)
    {
        Check(CodeOf(() => Consumer<Rec>.Open(name + "-none")) == ErrorCode.NotFound, "a missing name: NotFound");
        Check(CodeOf(() => MessageConsumer.Open(name + "-none")) == ErrorCode.NotFound, "a missing message ring: NotFound");
        Check(CodeOf(() => Producer<NotBlittable>.Create(name, 8)) == ErrorCode.InvalidArgument, "not blittable");
        Check(CodeOf(() => Producer<AutoLayout>.Create(name, 8)) == ErrorCode.InvalidArgument, "not sequential");
        using (Consumer<Rec> c = Consumer<Rec>.Create(name, 8))
        {
            Check(CodeOf(() => Producer<Rec24>.Open(name)) == ErrorCode.ElementMismatch, "a struct of another size");
            Check(CodeOf(() => Producer<RecPacked>.Open(name)) == ErrorCode.ElementMismatch, "a struct of another alignment");
            Check(CodeOf(() => Producer<RecOther>.Open(name)) == ErrorCode.ElementMismatch, "a struct of another name");
            Check(CodeOf(() => Producer<ulong>.Open(name)) == ErrorCode.ElementMismatch, "another element type");
            Check(CodeOf(() => MessageProducer.Open(name)) == ErrorCode.KindMismatch, "a message producer on a typed ring");
            try
            {
                Producer<RecOther>.Open(name).Dispose();
            }
            catch (ShmringException e)
            {
                Check(e.Message.Contains("xlang.other/v1"), "the message names the type: " + e.Message);
            }
            using (Producer<Rec> p = Producer<Rec>.Open(name))
            {
                Check(CodeOf(() => Producer<Rec>.Open(name)) == ErrorCode.AlreadyAttached, "a second producer");
                Check(p.ConsumerState == PeerState.Alive, "the consumer is alive");
                for (int k = 0; k < 8; ++k) Check(p.TryPush(RecOf(k)), "room for 8");
                Check(!p.TryPush(RecOf(8)), "full");
                Check(!p.Push(RecOf(8), TimeSpan.FromMilliseconds(1)), "full: a timed push times out");
                Rec r;
                for (int k = 0; k < 8; ++k) Check(c.TryPop(out r) && r.Id == k, "element " + k);
                Check(!c.TryPop(out r), "empty");
                Check(!c.Pop(TimeSpan.FromMilliseconds(1), out r), "empty: a timed pop times out");
                Check(CodeOf(() => p.PushN(new Rec[4], 2, 3)) == ErrorCode.InvalidArgument, "a range outside the array");
                p.Close();
                Check(CodeOf(() => p.Push(RecOf(0))) == ErrorCode.InvalidArgument, "a closed producer refuses");
            }
        }
        MessageProducer mp = MessageProducer.Create(name + "-msg", 4096);
        mp.Dispose();
        bool disposed = false;
        try { mp.Send(new byte[1]); }
        catch (ObjectDisposedException) { disposed = true; }
        Check(disposed, "a disposed producer throws ObjectDisposedException");
        Check(CodeOf(() => MessageProducer.Create("bad/name", 4096)) == ErrorCode.InvalidName, "a bad name");
    }

    // A ring created with packed slots (Options.Slots) is opened by a consumer with the default options (openers
    // accept either format); every element checked, the full ring refused.
    static void PackedSlots(string name)
    {
        Options o = new Options();
        o.Slots = SlotLayout.Packed;
        using (Producer<Rec> p = Producer<Rec>.Create(name, 8, o))
        using (Consumer<Rec> c = Consumer<Rec>.Open(name))
        {
            Rec[] batch = new Rec[9];
            for (int k = 0; k < 9; ++k) batch[k] = RecOf(100 + k);
            Check(p.TryPushN(batch, 0, 9) == 8, "a packed ring of 8 takes 8");
            Check(!p.TryPush(batch[8]), "full");
            Rec r;
            for (int k = 0; k < 8; ++k) Check(c.TryPop(out r) && r.Id == 100 + k, "packed element " + k);
            Check(!c.TryPop(out r), "empty");
        }
    }

    static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "message-child") return MessageChild(args[1]);
        if (args.Length == 2 && args[0] == "typed-child") return TypedChild(args[1]);
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: mono shmring_tests.exe <mono>");
            return 2;
        }
        string mono = args[0];
        string prefix = "test-cs-" + Process.GetCurrentProcess().Id;
        string[] names = { prefix + "-msg", prefix + "-typed", prefix + "-refuse", prefix + "-refuse-msg", prefix + "-packed" };
        foreach (string n in names) Ring.Remove(n);
        try
        {
            Refusals(prefix + "-refuse");
            PackedSlots(prefix + "-packed");
            MessagesAcrossProcesses(mono, prefix + "-msg");
            TypedAcrossProcesses(mono, prefix + "-typed");
        }
        catch (Exception e)
        {
            ++failures;
            Console.Error.WriteLine("unexpected exception: " + e);
        }
        finally
        {
            foreach (string n in names) Ring.Remove(n);
        }
        if (failures != 0)
        {
            Console.Error.WriteLine(failures + " checks failed");
            return 1;
        }
        Console.WriteLine("all C# checks passed");
        return 0;
    }
}
