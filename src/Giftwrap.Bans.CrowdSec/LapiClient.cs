// The bouncer's side of CrowdSec's Local API: GET /v1/decisions/stream with the key in the
// X-Api-Key header (the LAPI's bouncer authentication), startup=true for the full list and
// without it for the changes since this key's last call. Scopes ip and range are asked for,
// the only ones a gate can enforce; origins are filtered by the bouncer, since older LAPIs
// do not know that parameter. Every request is bounded by the configured timeout, body included.
// Failures come back as LapiException with what an operator needs to act (no stack trace).
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Giftwrap.Bans.CrowdSec;

/// <summary>A request to the Local API that failed: unreachable, timed out, refused, or answered with something that is not a stream.</summary>
internal sealed class LapiException(string message) : Exception(message);

internal sealed class LapiClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly CrowdSecOptions _options;

    public LapiClient(CrowdSecOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = options.Timeout, AutomaticDecompression = DecompressionMethods.All })
        {
            BaseAddress = new Uri(options.Lapi.AbsoluteUri.TrimEnd('/') + "/"),
            Timeout = options.Timeout,
            MaxResponseContentBufferSize = int.MaxValue,
        };
        _http.DefaultRequestHeaders.Add("X-Api-Key", options.ApiKey);
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("giftwrap-bouncer", typeof(LapiClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
    }

    /// <summary>One call of the stream: everything current with <paramref name="startup"/>, else what changed since the last call.</summary>
    public async Task<LapiStream> StreamAsync(bool startup, CancellationToken ct)
    {
        var path = "v1/decisions/stream?scopes=ip,range" + (startup ? "&startup=true" : "");
        try
        {
            // HttpClient.Timeout covers the whole exchange when the body is read before the call returns.
            using var response = await _http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                throw new LapiException($"the Local API refused the bouncer's key ({(int)response.StatusCode}): check api_key_file against `cscli bouncers list`");
            if (!response.IsSuccessStatusCode)
                throw new LapiException($"the Local API answered {(int)response.StatusCode} {response.ReasonPhrase}");
            var limit = _options.MaxAnswerBytes;
            if (response.Content.Headers.ContentLength > limit)
                throw new LapiException($"the Local API's answer is {response.Content.Headers.ContentLength} bytes, more than {limit} bytes");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.Timeout);
            // Counted as read too: an answer without a Content-Length (chunked) names no size in advance.
            await using var body = new CappedStream(await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false), limit);
            return await JsonSerializer.DeserializeAsync(body, LapiJson.Default.LapiStream, timeout.Token).ConfigureAwait(false)
                ?? throw new LapiException("the Local API answered null, not a decision stream");
        }
        catch (HttpRequestException ex)
        {
            throw new LapiException($"cannot reach the Local API at {_options.Lapi}: {ex.Message}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Our timeout, not the caller's stop: a LAPI that accepts and never answers.
            throw new LapiException($"the Local API at {_options.Lapi} did not answer within {_options.Timeout.TotalSeconds:0.#} s");
        }
        catch (JsonException ex)
        {
            throw new LapiException($"the Local API's answer is not a decision stream: {ex.Message}");
        }
        catch (IOException ex)
        {
            // The connection was cut while the answer was read.
            throw new LapiException($"the answer of the Local API at {_options.Lapi} was cut short: {ex.Message}");
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A read-only stream that refuses to give more than <c>limit</c> bytes (a LapiException past it).</summary>
    private sealed class CappedStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int n)
        {
            _read += n;
            return _read > limit ? throw new LapiException($"the Local API's answer is more than {limit} bytes") : n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
