using System.Net;
using System.Net.Sockets;
using LlmStack.Pipeline;
using Serilog;

namespace LlmStack.Testing;

/// <summary>
/// ServeTestReport: a static file server for the generated report on 127.0.0.1 only (HttpListener bound to the loopback
/// address, not every interface), GET and HEAD, until the token is cancelled (Ctrl-C). The report is read from disk on
/// every request, so a TestReport run meanwhile shows on the next reload. Allure's own <c>open</c> listens on every
/// interface and cannot be told otherwise; a report opened as a file cannot load its data (the browser refuses the fetches).
/// </summary>
public static class ReportServer
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".mjs"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".json"] = "application/json; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".jpg"] = "image/jpeg",
        [".gif"] = "image/gif",
        [".ico"] = "image/x-icon",
        [".woff"] = "font/woff",
        [".woff2"] = "font/woff2",
        [".xml"] = "application/xml",
    };

    /// <summary>Serves <paramref name="directory"/> on <c>http://127.0.0.1:<paramref name="port"/>/</c> (0: a free port); <paramref name="started"/> gets the URL.</summary>
    public static async Task ServeAsync(string directory, int port, Action<string> started, ILogger log, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(root, "index.html")))
        {
            throw new PipelineException($"no report in {directory} (no index.html): ./build.sh TestReport makes it");
        }

        if (port is < 0 or > 65535)
        {
            throw new PipelineException($"--report-port {port} is not a port (1-65535, or 0 for a free one)");
        }

        port = port == 0 ? FreePort() : port;
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        try
        {
            listener.Start();
        }
        catch (HttpListenerException e)
        {
            throw new PipelineException($"cannot listen on 127.0.0.1:{port}: {e.Message} (another --report-port, or 0 for a free one)");
        }

        started($"http://127.0.0.1:{port}/");
        using var stop = cancellationToken.Register(listener.Stop);
        while (!cancellationToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                break;
            }

            _ = Task.Run(() => Answer(context, root, log), CancellationToken.None);
        }
    }

    private static void Answer(HttpListenerContext context, string root, ILogger log)
    {
        var response = context.Response;
        try
        {
            var request = context.Request;
            if (request.HttpMethod is not ("GET" or "HEAD"))
            {
                response.StatusCode = 405;
                response.AddHeader("Allow", "GET, HEAD");
                return;
            }

            var path = Resolve(root, request.Url?.AbsolutePath ?? "/");
            if (path is null)
            {
                response.StatusCode = 404;
                return;
            }

            response.ContentType = ContentTypes.GetValueOrDefault(Path.GetExtension(path), "application/octet-stream");
            response.AddHeader("Cache-Control", "no-store");
            response.AddHeader("X-Content-Type-Options", "nosniff");
            using var file = System.IO.File.OpenRead(path);
            response.ContentLength64 = file.Length;
            if (request.HttpMethod == "GET")
            {
                file.CopyTo(response.OutputStream);
            }

            log.Debug("ServeTestReport {Method} {Path} 200", request.HttpMethod, request.Url?.AbsolutePath);
        }
        catch (Exception e) when (e is IOException or HttpListenerException or UnauthorizedAccessException or ObjectDisposedException)
        {
            log.Debug("ServeTestReport: {Error}", e.Message);
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    /// <summary>The file a URL path names under <paramref name="root"/> (a directory: its index.html), never outside it; null when there is none.</summary>
    internal static string? Resolve(string root, string urlPath)
    {
        var relative = Uri.UnescapeDataString(urlPath).TrimStart('/');
        var path = Path.GetFullPath(Path.Combine(root, relative));
        if (path != root && !path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return null;
        }

        if (Directory.Exists(path))
        {
            path = Path.Combine(path, "index.html");
        }

        return System.IO.File.Exists(path) ? path : null;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
