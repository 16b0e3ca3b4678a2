// An RFC 1413 ident server on 127.0.0.1 and a random high port, for the tests: it records the
// query and where it came from, and answers normally or misbehaves as the test chooses.
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Net.Tests.Peers;

public enum IdentMode
{
    Normal,
    Error,
    Huge,
    Slow,
    Malformed,
    WrongPorts,
    NoNewline,
    Raw,
}

internal sealed class IdentTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public IdentTestServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public IdentMode Mode { get; set; }

    /// <summary>The user (Normal) or the whole reply line without CRLF (Raw).</summary>
    public string Answer { get; set; } = "alice";

    public TaskCompletionSource<(string Query, IPEndPoint From)> Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The loop ends by its listener being stopped under it.
        }
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var query = await ReadQueryAsync(client);
                Asked.TrySetResult((query, (IPEndPoint)client.RemoteEndPoint!));
                var ports = query.TrimEnd('\r', '\n');
                var reply = Mode switch
                {
                    IdentMode.Normal => $"{ports} : USERID : UNIX : {Answer}\r\n",
                    IdentMode.Error => $"{ports} : ERROR : NO-USER\r\n",
                    IdentMode.Malformed => "this is not an ident reply\r\n",
                    IdentMode.WrongPorts => "1 , 2 : USERID : UNIX : alice\r\n",
                    IdentMode.NoNewline => $"{ports} : USERID : UNIX : alice",
                    IdentMode.Raw => Answer + "\r\n",
                    _ => null,
                };
                if (reply is not null)
                {
                    await client.SendAsync(Encoding.Latin1.GetBytes(reply), SocketFlags.None, _stop.Token);
                    if (Mode == IdentMode.NoNewline)
                    {
                        client.Shutdown(SocketShutdown.Send);
                    }
                }
                else if (Mode == IdentMode.Huge)
                {
                    await client.SendAsync(new byte[1 << 20].Select(_ => (byte)'x').ToArray(), SocketFlags.None, _stop.Token);
                }
                // Slow, and after every reply: hold the connection until the client closes it.
                await client.ReceiveAsync(new byte[1], SocketFlags.None, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client closed first or the test ended: both are normal here.
            }
        }
    }

    private async Task<string> ReadQueryAsync(Socket client)
    {
        var query = new StringBuilder();
        var one = new byte[1];
        while (query.Length < 100 && await client.ReceiveAsync(one, SocketFlags.None, _stop.Token) == 1)
        {
            query.Append((char)one[0]);
            if (one[0] == '\n')
            {
                break;
            }
        }
        return query.ToString();
    }
}
