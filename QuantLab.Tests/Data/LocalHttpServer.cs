using System.Net;
using System.Net.Sockets;

namespace QuantLab.Tests.Data;

/// <summary>Serves fixed byte arrays by path from an HttpListener on 127.0.0.1; 404 for anything else.</summary>
internal sealed class LocalHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly IReadOnlyDictionary<string, byte[]> _files;
    private readonly Task _loop;

    public LocalHttpServer(IReadOnlyDictionary<string, byte[]> files)
    {
        _files = files;
        var port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}/mnist/";
        _listener.Prefixes.Add(BaseUrl);
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string BaseUrl { get; }

    public List<string> Requested { get; } = [];

    /// <summary>A port nothing listens on (connections to it are refused).</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            var name = context.Request.Url!.AbsolutePath["/mnist/".Length..];
            lock (Requested) Requested.Add(name);
            if (_files.TryGetValue(name, out var bytes))
            {
                context.Response.StatusCode = 200;
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes);
            }
            else
            {
                context.Response.StatusCode = 404;
            }
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
