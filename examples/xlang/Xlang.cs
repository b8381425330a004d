// BitRPC's cross-language program in C#: a producer and a consumer of one message ring, either of which may be
// this program or its C++ or Python twin (examples/xlang/: same command line, same messages).
//   mono xlang.exe --mode producer --name NAME [--count N]
//   mono xlang.exe --mode consumer --name NAME
// The producer sends, N times (default 3), a string "Hello from C# #k" and then a record
// struct { int id; double value; } = {k, k * 1.5}, then closes its side. The consumer prints each string and record
// as it arrives, until the producer has closed. Either side may start first (both OpenOrCreate).
using System;
using System.Runtime.InteropServices;
using Shmring;

[StructLayout(LayoutKind.Sequential)]
struct Record
{
    public int Id;
    public double Value;
}

static class Xlang
{
    const ulong RingBytes = 1024 * 1024;

    static void Produce(string name, int count)
    {
        using (MessageProducer p = MessageProducer.OpenOrCreate(name, RingBytes))
        {
            for (int k = 1; k <= count; ++k)
            {
                string text = "Hello from C# #" + k;
                p.SendString(text);
                p.SendTyped(new Record { Id = k, Value = k * 1.5 });
                Console.WriteLine("sent: \"" + text + "\" and {id=" + k + ", value=" + (k * 1.5) + "}");
            }
            p.Close();
        }
    }

    static void Consume(string name)
    {
        using (MessageConsumer c = MessageConsumer.OpenOrCreate(name, RingBytes))
        {
            try
            {
                for (;;)
                {
                    Console.WriteLine("string: " + c.ReceiveString());
                    Record r = c.ReceiveTyped<Record>();
                    Console.WriteLine("struct: id=" + r.Id + " value=" + r.Value);
                }
            }
            catch (ShmringException e)
            {
                if (e.Code != ErrorCode.Closed) throw;
                Console.WriteLine("the producer closed the stream");
            }
        }
    }

    static int Main(string[] args)
    {
        string mode = null, name = null;
        int count = 3;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--mode") mode = args[i + 1];
            else if (args[i] == "--name") name = args[i + 1];
            else if (args[i] == "--count") count = int.Parse(args[i + 1]);
            else mode = null;
        }
        if ((mode != "producer" && mode != "consumer") || string.IsNullOrEmpty(name) || args.Length % 2 != 0)
        {
            Console.Error.WriteLine("usage: mono xlang.exe --mode producer|consumer --name NAME [--count N]");
            return 2;
        }
        try
        {
            if (mode == "producer") Produce(name, count); else Consume(name);
        }
        catch (ShmringException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        return 0;
    }
}
