using System.Globalization;
using System.Xml.Linq;

namespace LlmStack.Testing;

/// <summary>One test case of a JUnit file: a passed case has no failure.</summary>
public sealed record JUnitCase(string ClassName, string Name, double Seconds, string? Failure, string? Details = null);

/// <summary>
/// The one JUnit XML writer (the <c>testsuites</c>/<c>testsuite</c>/<c>testcase</c>/<c>failure</c> form Allure, GitHub and
/// Jenkins read) for what LlmStack tests itself: SmokeTest's checks and LoadTest's labels.
/// </summary>
public static class JUnitXml
{
    public static void Write(string path, string suite, IReadOnlyList<JUnitCase> cases, DateTimeOffset started)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var failures = cases.Count(c => c.Failure is not null);
        var seconds = cases.Sum(c => c.Seconds);
        var element = new XElement(
            "testsuite",
            new XAttribute("name", suite),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", failures),
            new XAttribute("errors", 0),
            new XAttribute("skipped", 0),
            new XAttribute("time", Seconds(seconds)),
            new XAttribute("timestamp", started.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            cases.Select(c => new XElement(
                "testcase",
                new XAttribute("classname", c.ClassName),
                new XAttribute("name", c.Name),
                new XAttribute("time", Seconds(c.Seconds)),
                c.Failure is null ? null : new XElement("failure", new XAttribute("message", c.Failure), c.Details ?? c.Failure))));
        var document = new XDocument(new XDeclaration("1.0", "utf-8", null),
            new XElement("testsuites", new XAttribute("name", suite), new XAttribute("tests", cases.Count), new XAttribute("failures", failures), new XAttribute("time", Seconds(seconds)), element));
        document.Save(path);
    }

    private static string Seconds(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
