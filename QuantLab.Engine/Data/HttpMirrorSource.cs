using System.Net;

namespace QuantLab.Engine.Data;

/// <summary>Time limits of an HTTP mirror. Short by default: a machine without internet must move on quickly.</summary>
public sealed record HttpMirrorTimeouts(TimeSpan Connect, TimeSpan Response, TimeSpan Download)
{
    public static HttpMirrorTimeouts Default { get; } = new(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5));
}

/// <summary>
/// Downloads <c>&lt;base URL&gt;&lt;name&gt;.gz</c> for each file from one mirror. A mirror that cannot
/// be reached (name resolution, connection, no response in time) is given up for the remaining
/// files too, so an offline machine pays one short timeout per mirror, not one per file.
/// </summary>
public sealed class HttpMirrorSource : IMnistSource
{
    /// <summary>No MNIST file comes near this; a mirror sending more is not sending MNIST.</summary>
    internal const long MaxDownloadBytes = 128L << 20;

    private readonly HttpMirrorTimeouts _timeouts;

    public HttpMirrorSource(string baseUrl, HttpMirrorTimeouts? timeouts = null)
    {
        if (!Uri.TryCreate(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/", UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new BadInputException($"mirror '{baseUrl}' is not an http(s) URL");
        BaseUri = uri;
        _timeouts = timeouts ?? HttpMirrorTimeouts.Default;
    }

    public Uri BaseUri { get; }

    public string Name => $"mirror {BaseUri}";

    public async Task<string?> TryFetchAsync(IReadOnlyList<MnistFile> files, string directory, Action<string>? log, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { ConnectTimeout = _timeouts.Connect, AutomaticDecompression = DecompressionMethods.None };
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var problems = new List<string>();
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            var uri = new Uri(BaseUri, file.Name + ".gz");
            log?.Invoke($"downloading {uri}");
            try
            {
                await DownloadAsync(client, uri, Path.Combine(directory, file.Name), cancellationToken);
            }
            catch (MirrorUnreachableException e)
            {
                problems.Add(e.Message);
                var rest = files.Count - i - 1;
                if (rest > 0) problems.Add($"{rest} more file(s) not tried");
                break;
            }
            catch (MirrorFileException e)
            {
                problems.Add(e.Message);
            }
        }
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    private async Task DownloadAsync(HttpClient client, Uri uri, string path, CancellationToken cancellationToken)
    {
        using var download = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        download.CancelAfter(_timeouts.Download);
        HttpResponseMessage response;
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(download.Token))
        {
            headers.CancelAfter(_timeouts.Response);
            try
            {
                response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, headers.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new MirrorUnreachableException($"{uri}: no response within {Seconds(_timeouts.Connect)} s (connect) / {Seconds(_timeouts.Response)} s (response)");
            }
            catch (HttpRequestException e)
            {
                throw new MirrorUnreachableException($"{uri}: {Innermost(e)}");
            }
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw new MirrorFileException($"{uri}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            if (response.Content.Headers.ContentLength > MaxDownloadBytes)
                throw new MirrorFileException($"{uri}: {response.Content.Headers.ContentLength} bytes, more than any MNIST file");
            try
            {
                await CopyBodyAsync(response, uri, path, download.Token, cancellationToken);
            }
            catch
            {
                File.Delete(path); // a partial download is not worth verifying
                throw;
            }
        }
    }

    private async Task CopyBodyAsync(HttpResponseMessage response, Uri uri, string path, CancellationToken download, CancellationToken cancellationToken)
    {
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(download);
            await using var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            var buffer = new byte[1 << 16];
            long total = 0;
            int n;
            while ((n = await body.ReadAsync(buffer, download)) > 0)
            {
                total += n;
                if (total > MaxDownloadBytes)
                    throw new MirrorFileException($"{uri}: more than {MaxDownloadBytes} bytes, more than any MNIST file");
                await target.WriteAsync(buffer.AsMemory(0, n), download);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MirrorUnreachableException($"{uri}: download not finished within {Seconds(_timeouts.Download)} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new MirrorFileException($"{uri}: download failed: {Innermost(e)}");
        }
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message;
    }

    /// <summary>The mirror as a whole failed: later files would fail the same way.</summary>
    private sealed class MirrorUnreachableException(string message) : Exception(message);

    /// <summary>One file failed; the mirror may still have the others.</summary>
    private sealed class MirrorFileException(string message) : Exception(message);
}
