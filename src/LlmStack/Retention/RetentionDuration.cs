using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmStack.Retention;

/// <summary>
/// A retention duration as restic writes it: years, months, days and hours, e.g. <c>1y2m3d3h</c>, <c>14d</c>, <c>6m</c>.
/// It is calendar arithmetic, not a number of seconds: going back a month from 31 March lands on 3 March (the day
/// overflows, as restic's Go <c>AddDate</c> does), and hours are subtracted last.
/// </summary>
public sealed partial record RetentionDuration(int Years, int Months, int Days, int Hours)
{
    [GeneratedRegex(@"^(?:(\d+)([ymdh]))+$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();

    public static RetentionDuration Parse(string text) =>
        TryParse(text, out var duration, out var problem) ? duration! : throw new FormatException(problem);

    public static bool TryParse(string? text, out RetentionDuration? duration, out string? problem)
    {
        duration = null;
        problem = null;
        var match = Shape().Match(text?.Trim() ?? string.Empty);
        if (!match.Success)
        {
            problem = $"'{text}' is not a duration: numbers followed by y, m, d or h, e.g. 1y2m3d3h, 14d, 48h";
            return false;
        }

        var parts = new Dictionary<char, int>();
        for (var i = 0; i < match.Groups[1].Captures.Count; i++)
        {
            var unit = match.Groups[2].Captures[i].Value[0];
            if (!int.TryParse(match.Groups[1].Captures[i].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                problem = $"'{text}': {match.Groups[1].Captures[i].Value}{unit} is too large (at most {int.MaxValue} of a unit)";
                return false;
            }

            if (!parts.TryAdd(unit, value))
            {
                problem = $"'{text}' gives '{unit}' twice";
                return false;
            }
        }

        duration = new RetentionDuration(parts.GetValueOrDefault('y'), parts.GetValueOrDefault('m'), parts.GetValueOrDefault('d'), parts.GetValueOrDefault('h'));
        return true;
    }

    /// <summary>
    /// <paramref name="time"/> moved back by this duration in its own offset: years and months first (the day of the
    /// month kept, overflowing into the next month when it does not exist), then days, then hours. A duration that goes
    /// back past the first representable time (<c>9999y</c>) gives <see cref="DateTimeOffset.MinValue"/>: every backup is
    /// newer, as with restic, whose Go time reaches that far back.
    /// </summary>
    public DateTimeOffset Before(DateTimeOffset time)
    {
        var months = (time.Year * 12L) + (time.Month - 1) - (Years * 12L) - Months;
        if (months < 12)
        {
            return DateTimeOffset.MinValue;
        }

        var first = new DateTime((int)(months / 12), (int)(months % 12) + 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
        var ticks = (Int128)first.Ticks + ((Int128)(time.Day - 1) - Days) * TimeSpan.TicksPerDay + time.TimeOfDay.Ticks - (Int128)Hours * TimeSpan.TicksPerHour;
        var utc = ticks - time.Offset.Ticks;
        if (ticks < DateTime.MinValue.Ticks || utc < DateTime.MinValue.Ticks)
        {
            return DateTimeOffset.MinValue;
        }

        return new DateTimeOffset(new DateTime((long)ticks, DateTimeKind.Unspecified), time.Offset);
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (value, unit) in new[] { (Years, 'y'), (Months, 'm'), (Days, 'd'), (Hours, 'h') })
        {
            if (value != 0)
            {
                text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(unit);
            }
        }

        return text.Length == 0 ? "0h" : text.ToString();
    }
}
