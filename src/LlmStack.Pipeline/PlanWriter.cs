using System.Text;

namespace LlmStack.Pipeline;

/// <summary><c>--plan</c>: the ordered plan on the console, and a Mermaid graph of every target with the plan highlighted.</summary>
internal static class PlanWriter
{
    public static void Write(TextWriter output, IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ExecutableTarget> plan, string graphFile, string root)
    {
        output.WriteLine($"Execution plan ({plan.Count} targets):");
        var number = 0;
        foreach (var target in plan)
        {
            number++;
            var note = target.Status == ExecutionStatus.Skipped ? $"   (skipped: {target.SummaryInfo})" : target.Invoked ? "   (invoked)" : string.Empty;
            output.WriteLine($"  {number,2}. {target.Name}{note}");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(graphFile)!);
        File.WriteAllText(graphFile, Mermaid(targets, plan));
        output.WriteLine();
        output.WriteLine($"Graph: {Path.GetRelativePath(root, graphFile)} (Mermaid; solid = DependsOn, dotted = order only, thick = triggers)");
    }

    internal static string Mermaid(IReadOnlyList<ExecutableTarget> targets, IReadOnlyList<ExecutableTarget> plan)
    {
        var builder = new StringBuilder();
        builder.Append("graph LR\n");
        builder.Append("  classDef planned fill:#cfe8ff,stroke:#1f6feb;\n");
        builder.Append("  classDef skipped fill:#eeeeee,stroke:#999999,stroke-dasharray: 4;\n");
        builder.Append("  classDef unlisted color:#888888;\n");
        foreach (var target in targets)
        {
            var cls = plan.Contains(target)
                ? target.Status == ExecutionStatus.Skipped ? ":::skipped" : ":::planned"
                : target.Listed ? string.Empty : ":::unlisted";
            builder.Append($"  {target.Name}{cls}\n");
        }

        foreach (var target in targets)
        {
            foreach (var dependency in target.ExecutionDependencies)
            {
                builder.Append($"  {dependency.Name} --> {target.Name}\n");
            }

            foreach (var dependency in target.OrderDependencies)
            {
                builder.Append($"  {dependency.Name} -.-> {target.Name}\n");
            }

            foreach (var triggered in target.Triggers)
            {
                builder.Append($"  {target.Name} ==> {triggered.Name}\n");
            }
        }

        return builder.ToString();
    }
}
