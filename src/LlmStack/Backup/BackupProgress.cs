using System.Globalization;
using LlmStack.Schema;
using Serilog;

namespace LlmStack.Backup;

/// <summary>
/// Progress of long backups and restores from restic's JSON status: on a terminal a line rewritten in place (bytes,
/// percent, rate, time left); in a log (CI) a line every few seconds. A summary line per member either way.
/// </summary>
public sealed class BackupProgress(TextWriter? terminal, ILogger log)
{
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(5);
    private DateTime _lastLog = DateTime.MinValue;
    private int _width;

    /// <summary>For the process console: live on a terminal, periodic lines otherwise.</summary>
    public static BackupProgress ForConsole(ILogger log) => new(Console.IsErrorRedirected ? null : Console.Error, log);

    /// <summary>Reports for one member: in a log the first line comes after a few seconds, so quick members stay quiet.</summary>
    public Action<ResticProgress> For(string what)
    {
        _lastLog = DateTime.UtcNow;
        return progress => Report(what, progress);
    }

    public void Report(string what, ResticProgress progress)
    {
        var rate = progress.SecondsElapsed > 0 ? progress.BytesDone / progress.SecondsElapsed : 0;
        var text = string.Create(CultureInfo.InvariantCulture, $"{what}: {Size(progress.BytesDone)}")
                   + (progress.Percent is { } percent ? string.Create(CultureInfo.InvariantCulture, $" ({percent * 100:0}%)") : string.Empty)
                   + $", {Size((long)rate)}/s"
                   + (progress.TotalBytes is not null && progress.SecondsRemaining is > 0 and var left ? $", {TimeSpan.FromSeconds(left):mm\\:ss} left" : string.Empty);
        if (terminal is not null)
        {
            lock (terminal)
            {
                terminal.Write("\r" + text.PadRight(_width));
                terminal.Flush();
                _width = text.Length;
            }
        }
        else if (DateTime.UtcNow - _lastLog >= LogEvery)
        {
            _lastLog = DateTime.UtcNow;
            log.Information("{Progress}", text);
        }
    }

    /// <summary>Ends a live line before the summary is logged.</summary>
    public void Done()
    {
        if (terminal is not null && _width > 0)
        {
            lock (terminal)
            {
                terminal.Write("\r" + new string(' ', _width) + "\r");
                terminal.Flush();
                _width = 0;
            }
        }
    }

    public static string Size(long bytes) => ByteSize.Format(bytes);
}
