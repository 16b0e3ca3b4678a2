// A tiny DNS server on 127.0.0.1 for the tests: answers PTR, A and AAAA from a table the test
// fills, or misbehaves on purpose (garbage, truncation, wrong ids, silence, loops). It counts
// and records every question so tests can see what the client asked.
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Net.Tests.Peers;

public enum DnsServerMode
{
    Normal,
    Garbage,
    Truncated,
    WrongId,
    Silent,
    ServerFailure,
    CompressionLoop,
    OverrunRecord,
}

internal sealed class DnsTestServer : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, List<byte[][]>> _ptr = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, List<IPAddress>> _addresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _cnames = new(StringComparer.OrdinalIgnoreCase);
    private readonly Task _loop;
    private volatile DnsServerMode _mode;
    private volatile TaskCompletionSource? _hold;

    public DnsTestServer()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _loop = Task.Run(LoopAsync);
    }

    public IPEndPoint EndPoint { get; }

    public DnsServerMode Mode { get => _mode; set => _mode = value; }

    /// <summary>While set, answers wait for this to complete (the questions are still counted).</summary>
    public TaskCompletionSource? Hold { get => _hold; set => _hold = value; }

    public ConcurrentQueue<(string Name, int Type)> Questions { get; } = new();

    public int CountQuestions(int type) => Questions.Count(q => q.Type == type);

    public void AddPtr(IPAddress address, string name) =>
        AddPtrLabels(address, [.. name.Split('.').Select(Encoding.Latin1.GetBytes)]);

    public void AddPtrLabels(IPAddress address, params byte[][] labels) =>
        _ptr.GetOrAdd(Giftwrap.Net.Dns.DnsMessage.ReverseName(address), _ => []).Add(labels);

    public void AddAddress(string name, IPAddress address) =>
        _addresses.GetOrAdd(name, _ => []).Add(address);

    /// <summary>An alias: questions for <paramref name="alias"/> are answered with a CNAME and the target's addresses.</summary>
    public void AddCname(string alias, string target) => _cnames[alias] = target;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The loop ends by its socket being closed under it.
        }
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        var buffer = new byte[512];
        while (!_stop.IsCancellationRequested)
        {
            var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            _ = AnswerAsync(buffer[..received.ReceivedBytes], received.RemoteEndPoint);
        }
    }

    private async Task AnswerAsync(byte[] query, EndPoint client)
    {
        if (!TryReadQuestion(query, out var name, out var type, out var questionEnd))
        {
            return;
        }
        Questions.Enqueue((name, type));
        if (Hold is { } hold)
        {
            await hold.Task;
        }
        var reply = Mode switch
        {
            DnsServerMode.Silent => null,
            DnsServerMode.Garbage => [.. Enumerable.Range(0, 64).Select(i => (byte)Random.Shared.Next(256))],
            _ => BuildReply(query, name, type, questionEnd),
        };
        if (reply is not null)
        {
            try
            {
                await _socket.SendToAsync(reply, SocketFlags.None, client);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The test is over or the client went away.
            }
        }
    }

    private byte[] BuildReply(byte[] query, string name, int type, int questionEnd)
    {
        var answers = new List<(int Type, byte[] Data)>();
        var rcode = 0;
        byte[]? aliasOwner = null;
        if (type is 1 or 28 && _cnames.TryGetValue(name, out var target))
        {
            // The CNAME first (owner: the question), then the target's records (owner: the CNAME's data).
            answers.Add((5, WireName([.. target.Split('.').Select(Encoding.Latin1.GetBytes)])));
            aliasOwner = WireName([.. target.Split('.').Select(Encoding.Latin1.GetBytes)]);
            name = target;
        }
        if (type == 12 && _ptr.TryGetValue(name, out var ptrs))
        {
            answers.AddRange(ptrs.Select(labels => (12, WireName(labels))));
        }
        else if (type is 1 or 28 && _addresses.TryGetValue(name, out var addresses))
        {
            var family = type == 1 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
            answers.AddRange(addresses.Where(a => a.AddressFamily == family).Select(a => (type, a.GetAddressBytes())));
        }
        else if (!_addresses.ContainsKey(name) && !_ptr.ContainsKey(name))
        {
            rcode = 3;
        }
        var flags = 0x8180 | rcode;
        switch (Mode)
        {
            case DnsServerMode.Truncated: flags |= 0x0200; answers.Clear(); break;
            case DnsServerMode.ServerFailure: flags = 0x8182; answers.Clear(); break;
        }
        using var reply = new MemoryStream();
        reply.Write(query, 0, questionEnd);
        var header = reply.GetBuffer();
        if (Mode == DnsServerMode.WrongId)
        {
            header[0] ^= 0x55;
        }
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)flags);
        var count = Mode is DnsServerMode.CompressionLoop or DnsServerMode.OverrunRecord ? 1 : answers.Count;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), (ushort)count);
        if (Mode == DnsServerMode.CompressionLoop)
        {
            var self = (int)reply.Length;
            reply.Write([(byte)(0xC0 | (self >> 8)), (byte)self, 0, 12, 0, 1, 0, 0, 0, 60, 0, 0]);
            return reply.ToArray();
        }
        if (Mode == DnsServerMode.OverrunRecord)
        {
            reply.Write([0xC0, 0x0C, 0, (byte)type, 0, 1, 0, 0, 0, 60, 0, 200, 1, 2, 3]);
            return reply.ToArray();
        }
        foreach ((var answerType, var data) in answers)
        {
            // The owner is a compression pointer to the question (RFC 1035 4.1.4), as real servers send;
            // behind a CNAME, the target's name written out.
            if (aliasOwner is not null && answerType != 5)
            {
                reply.Write(aliasOwner);
            }
            else
            {
                reply.Write([0xC0, 0x0C]);
            }
            reply.Write([0, (byte)answerType, 0, 1, 0, 0, 0, 60, (byte)(data.Length >> 8), (byte)data.Length]);
            reply.Write(data);
        }
        return reply.ToArray();
    }

    private static byte[] WireName(byte[][] labels)
    {
        using var wire = new MemoryStream();
        foreach (var label in labels)
        {
            wire.WriteByte((byte)label.Length);
            wire.Write(label);
        }
        wire.WriteByte(0);
        return wire.ToArray();
    }

    private static bool TryReadQuestion(byte[] query, out string name, out int type, out int end)
    {
        name = "";
        type = 0;
        end = 12;
        var labels = new List<string>();
        while (end < query.Length && query[end] != 0)
        {
            int length = query[end];
            if (end + 1 + length > query.Length)
            {
                return false;
            }
            labels.Add(Encoding.Latin1.GetString(query, end + 1, length));
            end += 1 + length;
        }
        if (end + 5 > query.Length)
        {
            return false;
        }
        type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(end + 1));
        end += 5;
        name = string.Join('.', labels);
        return true;
    }
}
