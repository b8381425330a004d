// C# to C# between two processes on mono: N 64-byte messages through shmring (a message ring, copying Receive and
// zero-copy Read/Release) and through a named pipe (System.IO.Pipes, a Unix domain socket on mono: one 64-byte
// Write per message, the reader reads exactly 64 bytes per message; mono's Process.Start passes no anonymous pipe
// handle to a child), the same N for each, in one run. The consumer (a child process)
// checks every message's sequence number and its first 8 bytes, and reports its time from the first message to
// the last; the rate is N over that time.
//   mono csharp_bench.exe <mono> [count]
using System;
using System.Diagnostics;
using System.IO;
using System.IO.Pipes;
using Shmring;

static class CsharpBench
{
    const int Size = 64;

    static byte[] MessageOf(long i, byte[] buf)
    {
        BitConverter.GetBytes(i).CopyTo(buf, 0);
        return buf;
    }

    // ---- consumers (child processes): print "<seconds> <bad>" -------------------------------------------------
    static int ShmringConsumer(string name, long n, bool zeroCopy)
    {
        using (MessageConsumer c = MessageConsumer.Open(name))
        {
            long bad = 0;
            Stopwatch w = null;
            for (long i = 0; i < n; ++i)
            {
                long first;
                ulong seq;
                int len;
                if (zeroCopy)
                {
                    MessageView v = c.Read();
                    unsafe { first = *(long*)v.Data; }
                    seq = v.Sequence;
                    len = v.Length;
                    c.Release();
                }
                else
                {
                    Message m = c.Receive();
                    first = BitConverter.ToInt64(m.Payload, 0);
                    seq = m.Sequence;
                    len = m.Payload.Length;
                }
                if (i == 0) w = Stopwatch.StartNew();
                if (first != i || seq != (ulong)i || len != Size) ++bad;
            }
            Console.WriteLine(w.Elapsed.TotalSeconds.ToString("R") + " " + bad);
        }
        return 0;
    }

    static int PipeConsumer(string pipe, long n)
    {
        using (NamedPipeClientStream s = new NamedPipeClientStream(".", pipe, PipeDirection.In))
        {
            s.Connect();
            byte[] buf = new byte[Size];
            long bad = 0;
            Stopwatch w = null;
            for (long i = 0; i < n; ++i)
            {
                for (int got = 0; got < Size;)
                {
                    int r = s.Read(buf, got, Size - got);
                    if (r == 0) throw new EndOfStreamException("the pipe closed at message " + i);
                    got += r;
                }
                if (i == 0) w = Stopwatch.StartNew();
                if (BitConverter.ToInt64(buf, 0) != i) ++bad;
            }
            Console.WriteLine(w.Elapsed.TotalSeconds.ToString("R") + " " + bad);
        }
        return 0;
    }

    // ---- producers (the parent) -------------------------------------------------------------------------------
    static Process Child(string mono, string args)
    {
        ProcessStartInfo si = new ProcessStartInfo(mono, "\"" + typeof(CsharpBench).Assembly.Location + "\" " + args);
        si.UseShellExecute = false;
        si.RedirectStandardOutput = true;
        return Process.Start(si);
    }

    static string Report(string what, long n, Process child)
    {
        string line = child.StandardOutput.ReadToEnd().Trim();
        child.WaitForExit();
        string[] f = line.Split(' ');
        if (child.ExitCode != 0 || f.Length != 2 || f[1] != "0")
            throw new Exception(what + ": the consumer failed (exit " + child.ExitCode + ", \"" + line + "\")");
        double s = double.Parse(f[0]);
        return string.Format("{0,-32} {1,10} msgs {2,9:F3} s {3,10:F2} M msg/s", what, n, s, n / s / 1e6);
    }

    static string RunShmring(string mono, long n, bool zeroCopy)
    {
        string name = "bench-cs-" + Process.GetCurrentProcess().Id + (zeroCopy ? "-zc" : "-copy");
        Ring.Remove(name);
        try
        {
            using (MessageProducer p = MessageProducer.Create(name, 1 << 20))
            {
                Process child = Child(mono, "shmring-consumer " + name + " " + n + " " + (zeroCopy ? "1" : "0"));
                byte[] buf = new byte[Size];
                for (long i = 0; i < n; ++i) p.Send(MessageOf(i, buf));
                p.Close();
                return Report(zeroCopy ? "shmring Read/Release (zero copy)" : "shmring Send/Receive", n, child);
            }
        }
        finally { Ring.Remove(name); }
    }

    static string RunPipe(string mono, long n)
    {
        string pipe = "shmring-bench-" + Process.GetCurrentProcess().Id;
        using (NamedPipeServerStream s = new NamedPipeServerStream(pipe, PipeDirection.Out, 1))
        {
            Process child = Child(mono, "pipe-consumer " + pipe + " " + n);
            s.WaitForConnection();
            byte[] buf = new byte[Size];
            for (long i = 0; i < n; ++i)
            {
                s.Write(MessageOf(i, buf), 0, Size);
                s.Flush();
            }
            s.Close();
            return Report("System.IO.Pipes named pipe", n, child);
        }
    }

    static int Main(string[] args)
    {
        if (args.Length == 4 && args[0] == "shmring-consumer")
            return ShmringConsumer(args[1], long.Parse(args[2]), args[3] == "1");
        if (args.Length == 3 && args[0] == "pipe-consumer") return PipeConsumer(args[1], long.Parse(args[2]));
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: mono csharp_bench.exe <mono> [count]");
            return 2;
        }
        string mono = args[0];
        long n = args.Length > 1 ? long.Parse(args[1]) : 1000000;
        string[] rows = { RunShmring(mono, n, false), RunShmring(mono, n, true), RunPipe(mono, n) };
        foreach (string r in rows) Console.WriteLine(r);
        return 0;
    }
}
