using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LlmStack.Security;
using LlmStack.Tooling;

namespace LlmStack.Benchmarks;

/// <summary>
/// Storage tier servers on 127.0.0.1 for tests and benchmarks: <c>rclone serve restic</c> (a restic REST server, the
/// remote tier) and npm s3rver with TLS and a self-signed certificate made here (the cloud tier; restic's S3 client
/// sends chunk-signed uploads that s3rver only stores correctly over TLS). Bucket <see cref="Bucket"/>, keys S3RVER.
/// Everything lives under <see cref="Directory"/>, removed on disposal with the processes.
/// </summary>
public sealed class TierServers : IAsyncDisposable
{
    public const string Bucket = "llmstack";

    public const string AccessKey = "S3RVER";

    private readonly List<Process> _processes = [];

    private TierServers(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }

    public int RestPort { get; } = FreePort();

    public int S3Port { get; } = FreePort();

    /// <summary>The self-signed certificate of the S3 server, to pass as the tier's CA file.</summary>
    public string CaFile => Path.Combine(Directory, "cert.pem");

    /// <summary>Where the REST server keeps its repositories (<c>rest:http://127.0.0.1:port/X</c> is <c>RestRoot/X</c>).</summary>
    public string RestRoot => Path.Combine(Directory, "rest");

    public string RestUrl => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{RestPort}");

    public string S3Url => string.Create(CultureInfo.InvariantCulture, $"https://127.0.0.1:{S3Port}");

    /// <summary>The lines of a credentials file for the S3 server.</summary>
    public static string CredentialsFile => $"AWS_ACCESS_KEY_ID={AccessKey}\nAWS_SECRET_ACCESS_KEY={AccessKey}\n";

    public static async Task<TierServers> StartAsync(string root, CancellationToken cancellationToken)
    {
        var servers = new TierServers(Path.Combine(Path.GetTempPath(), $"llmstack-tiers-{Guid.NewGuid():N}"));
        try
        {
            await servers.RunAsync(root, cancellationToken);
            return servers;
        }
        catch
        {
            await servers.DisposeAsync();
            throw;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }

        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }

        return ValueTask.CompletedTask;
    }

    private async Task RunAsync(string root, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(RestRoot);
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "s3"));
        var keyFile = Path.Combine(Directory, "key.pem");
        using (var key = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
            await File.WriteAllTextAsync(CaFile, certificate.ExportCertificatePem(), cancellationToken);
            SecretStore.WritePrivate(keyFile, key.ExportPkcs8PrivateKeyPem());
        }

        Start("rclone", ["serve", "restic", RestRoot, "--addr", $"127.0.0.1:{RestPort}"]);
        Start(Path.Combine(TestTools.ToolsDirectory(root), "node_modules", ".bin", "s3rver"),
            ["-d", Path.Combine(Directory, "s3"), "-a", "127.0.0.1", "-p", S3Port.ToString(CultureInfo.InvariantCulture), "--key", keyFile, "--cert", CaFile, "--configure-bucket", Bucket]);
        foreach (var port in new[] { RestPort, S3Port })
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100, cancellationToken);
                }
            }
        }
    }

    private void Start(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }
}
