// The C# peer of the cross-language tests (the protocol: tests/bindings/xpeer-protocol.md):
//   mono xpeer.exe --role send|recv --kind messages|u64|struct --name NAME --count N --seed S
// Exit 0 with a last line "ok <count> <kind>"; "mismatch at <index>: <what>" on stderr and exit 1; a shmring
// error's message on stderr and exit 2. CRC-32 is zlib's (libz.so.1), as Python's zlib.crc32.
using System;
using System.Runtime.InteropServices;
using Shmring;

[StructLayout(LayoutKind.Sequential)]
[ShmringType("xlang.record/v1")]
struct XRecord
{
    public int Id;
    public double Value;
}

class Mismatch : Exception
{
    public ulong Index;
    public Mismatch(ulong index, string what) : base(what) { Index = index; }
}

static class XPeer
{
    const ulong MessageRingBytes = 1048576, TypedRingElements = 65536;
    const int BigMessage = 8388608, Batch = 4096;

    [DllImport("libz.so.1")] static extern unsafe ulong crc32(ulong crc, byte* buf, uint len);

    static unsafe uint Crc32(byte* p, int n) { return (uint)crc32(0, p, (uint)n); }

    static ulong state;
    static ulong Next()
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    // Message i: its size, type and flags (two Next() calls, in this order).
    static void Spec(ulong i, ulong n, out int size, out uint type, out uint flags)
    {
        ulong a = Next(), b = Next();
        size = i == n / 2 ? BigMessage : (int)(a % 65537);
        type = (uint)(1 + b % 100000);
        flags = (uint)((b >> 32) & 7);
    }

    // Payload byte j of message i is (byte)(j*7 + i*131 + S) = pattern[j + offset], pattern[k] = (byte)(7k),
    // offset = 183 (i*131 + S) mod 256 (7 * 183 = 1 mod 256).
    static byte[] Pattern()
    {
        byte[] p = new byte[BigMessage + 256];
        for (int k = 0; k < p.Length; ++k) p[k] = unchecked((byte)(k * 7));
        return p;
    }
    static int Offset(ulong i, ulong seed) { return (int)(unchecked((i * 131 + seed) * 183) & 255); }

    static void SendMessages(string name, ulong n, ulong seed)
    {
        using (MessageProducer p = MessageProducer.OpenOrCreate(name, MessageRingBytes))
        {
            byte[] pattern = Pattern();
            state = seed;
            for (ulong i = 0; i < n; ++i)
            {
                int size; uint type, flags;
                Spec(i, n, out size, out type, out flags);
                p.Send(pattern, Offset(i, seed), size, type, flags);
            }
            p.Close();
        }
    }

    static unsafe void RecvMessages(string name, ulong n, ulong seed)
    {
        using (MessageConsumer c = MessageConsumer.OpenOrCreate(name, MessageRingBytes))
        {
            byte[] pattern = Pattern();
            state = seed;
            fixed (byte* pat = pattern)
            {
                for (ulong i = 0; i < n; ++i)
                {
                    int size; uint type, flags;
                    Spec(i, n, out size, out type, out flags);
                    MessageView m = c.Read();
                    try
                    {
                        if (m.Sequence != i) throw new Mismatch(i, "sequence " + m.Sequence);
                        if (m.Type != type) throw new Mismatch(i, "type " + m.Type + ", expected " + type);
                        if ((uint)m.Flags != flags) throw new Mismatch(i, "flags " + (uint)m.Flags + ", expected " + flags);
                        if (m.Length != size) throw new Mismatch(i, "length " + m.Length + ", expected " + size);
                        uint got = Crc32((byte*)m.Data, m.Length), want = Crc32(pat + Offset(i, seed), size);
                        if (got != want) throw new Mismatch(i, "crc32 " + got + ", expected " + want);
                    }
                    finally { c.Release(); }
                }
            }
        }
    }

    static ulong U64(ulong k, ulong seed) { return unchecked(k * 0x9E3779B97F4A7C15UL) ^ seed; }

    static void SendU64(string name, ulong n, ulong seed)
    {
        using (Producer<ulong> p = Producer<ulong>.OpenOrCreate(name, TypedRingElements))
        {
            ulong[] buf = new ulong[Batch];
            for (ulong k = 0; k < n;)
            {
                int m = (int)Math.Min((ulong)Batch, n - k);
                for (int j = 0; j < m; ++j) buf[j] = U64(k + (ulong)j, seed);
                p.PushN(buf, 0, m);
                k += (ulong)m;
            }
            p.Close();
        }
    }

    static void RecvU64(string name, ulong n, ulong seed)
    {
        using (Consumer<ulong> c = Consumer<ulong>.OpenOrCreate(name, TypedRingElements))
        {
            ulong[] buf = new ulong[Batch];
            for (ulong k = 0; k < n;)
            {
                int m = c.PopN(buf, 0, (int)Math.Min((ulong)Batch, n - k));
                for (int j = 0; j < m; ++j, ++k)
                    if (buf[j] != U64(k, seed)) throw new Mismatch(k, "value " + buf[j] + ", expected " + U64(k, seed));
            }
        }
    }

    static XRecord Record(ulong k) { return new XRecord { Id = (int)(k & 0x7fffffff), Value = k * 0.5 }; }

    static void SendStruct(string name, ulong n)
    {
        using (Producer<XRecord> p = Producer<XRecord>.OpenOrCreate(name, TypedRingElements))
        {
            XRecord[] buf = new XRecord[Batch];
            for (ulong k = 0; k < n;)
            {
                int m = (int)Math.Min((ulong)Batch, n - k);
                for (int j = 0; j < m; ++j) buf[j] = Record(k + (ulong)j);
                p.PushN(buf, 0, m);
                k += (ulong)m;
            }
            p.Close();
        }
    }

    static void RecvStruct(string name, ulong n)
    {
        using (Consumer<XRecord> c = Consumer<XRecord>.OpenOrCreate(name, TypedRingElements))
        {
            XRecord[] buf = new XRecord[Batch];
            for (ulong k = 0; k < n;)
            {
                int m = c.PopN(buf, 0, (int)Math.Min((ulong)Batch, n - k));
                for (int j = 0; j < m; ++j, ++k)
                {
                    XRecord want = Record(k);
                    if (buf[j].Id != want.Id) throw new Mismatch(k, "id " + buf[j].Id + ", expected " + want.Id);
                    if (buf[j].Value != want.Value) throw new Mismatch(k, "value " + buf[j].Value + ", expected " + want.Value);
                }
            }
        }
    }

    static int Usage(string why)
    {
        Console.Error.WriteLine("xpeer.exe: " + why + "\nusage: mono xpeer.exe --role send|recv --kind messages|u64|struct " +
                                "--name NAME --count N --seed S");
        return 2;
    }

    static int Main(string[] args)
    {
        string role = null, kind = null, name = null, countS = null, seedS = null;
        for (int i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length) return Usage("every option takes a value");
            switch (args[i])
            {
                case "--role": role = args[i + 1]; break;
                case "--kind": kind = args[i + 1]; break;
                case "--name": name = args[i + 1]; break;
                case "--count": countS = args[i + 1]; break;
                case "--seed": seedS = args[i + 1]; break;
                default: return Usage("unknown option " + args[i]);
            }
        }
        ulong count, seed;
        if (role != "send" && role != "recv") return Usage("--role is send or recv");
        if (kind != "messages" && kind != "u64" && kind != "struct") return Usage("--kind is messages, u64 or struct");
        if (string.IsNullOrEmpty(name)) return Usage("--name is missing");
        if (!ulong.TryParse(countS, out count) || !ulong.TryParse(seedS, out seed))
            return Usage("--count and --seed are unsigned integers");
        try
        {
            bool send = role == "send";
            if (kind == "messages") { if (send) SendMessages(name, count, seed); else RecvMessages(name, count, seed); }
            else if (kind == "u64") { if (send) SendU64(name, count, seed); else RecvU64(name, count, seed); }
            else { if (send) SendStruct(name, count); else RecvStruct(name, count); }
        }
        catch (Mismatch m)
        {
            Console.Error.WriteLine("mismatch at " + m.Index + ": " + m.Message);
            return 1;
        }
        catch (ShmringException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        Console.WriteLine("ok " + count + " " + kind);
        return 0;
    }
}
