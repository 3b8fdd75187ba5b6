using LlmStack.Images;
using LlmStack.Pipeline;
using LlmStack.Schema;

/// <summary>
/// Images and GPUs: the build services' images built from their contexts, the others pulled, the Images check, the host's
/// GPUs, the refusal of a run that needs GPUs the engine cannot give, and Setup for a new host. Rebuild&lt;Stack&gt; declares
/// only its name; its stack and the Start targets it depends on come from the schema's outline (<see cref="StackTargets"/>),
/// as the other stack targets' do.
/// </summary>
interface IImages : IStacks, INetworks, ICredentials, ISchema
{
    Target BuildImages => _ => _
        .Description("Build the images of the environment's services that have build: (or --service's), each from its context with .dockerignore applied, when it is missing or its sources (files, Dockerfile, args, target) changed; output prefixed by service; a failing step is one line naming service and step.")
        .Executes(async ct => ReportSummary("Built", (await (await Session.ImageOperationsAsync(ct)).BuildAsync(Service, ct)).ToString(System.Globalization.CultureInfo.InvariantCulture)));

    Target RebuildCore => _ => RebuildStack(_, nameof(RebuildCore));
    Target RebuildInference => _ => RebuildStack(_, nameof(RebuildInference));
    Target RebuildAi => _ => RebuildStack(_, nameof(RebuildAi));
    Target RebuildUi => _ => RebuildStack(_, nameof(RebuildUi));
    Target RebuildTesting => _ => RebuildStack(_, nameof(RebuildTesting));
    Target RebuildMonitoring => _ => RebuildStack(_, nameof(RebuildMonitoring));

    Target PullImages => _ => _
        .Description("Pull the environment's missing images that are not built (after --image-map), in parallel with progress, with this host's docker login; an image that cannot be pulled is one line naming it, the registry's answer and the fix.")
        .Executes(async ct => ReportSummary("Pulled", (await (await Session.ImageOperationsAsync(ct)).PullAsync(ct)).ToString(System.Globalization.CultureInfo.InvariantCulture)));

    Target Images => _ => _
        .Description("Per service of the environment: image (after --image-map), where it comes from, present or missing, a built image current or stale against its sources, size (--json); non-zero when Start could not have an image.")
        .After(ValidateSchema, SetupSecrets)
        .ProceedAfterFailure()
        .Executes(async ct => Reports.Write(await (await Session.ImageOperationsAsync(ct)).ReportAsync(ct)));

    Target DetectGpu => _ => _
        .Description("The engine's GPU runtimes and CDI devices, nvidia-smi's GPUs when it is installed, what each GPU service asks for, and a verdict per environment (--json); non-zero when the run's environment cannot run its GPU services here.")
        .After(ValidateSchema, SetupSecrets)
        .ProceedAfterFailure()
        .Executes(async ct => Reports.Write(await (await Session.ImageOperationsAsync(ct)).GpuReportAsync(Session.AllEnvironments().Select(e => e.Environment).ToList(), ct)));

    Target CheckGpu => _ => FromSchema(_, () => Gated(SchemaFile.Outline()), gated => _
        .Description("Refuse in one line, before anything of the run is created, a run whose Start<Stack> or Rebuild<Stack> targets need GPUs the engine cannot give (no GPU runtime, or device ids the host does not have); every Start<Stack> and Rebuild<Stack> depends on it.")
        .Unlisted()
        .DependentFor(gated)
        .Executes(async ct => await (await Session.ImageOperationsAsync(ct)).CheckGpuAsync(PlannedStarts(), ct)));

    Target Setup => _ => _
        .Description("A new host, read-only but for the secrets it creates: ValidateSchema, SetupSecrets (never changes an existing one), DetectGpu, Images (the missing ones listed), CheckNetworkConflicts, each run even when one before it failed; then what to do next.")
        .DependsOn(ValidateSchema, SetupSecrets, DetectGpu, Images, CheckNetworkConflicts)
        .AssuredAfterFailure()
        .Executes(() => Reports.Write(SetupSummary.Of(SetupOutcomes(), Environment, StackTargets.Start)));

    ITargetDefinition RebuildStack(ITargetDefinition _, string target) => ForStack(_, target, StackTargets.Rebuild, (_, stack, outline) => StackTargets.OfDependencies(StackTargets.Start, stack, outline), (stack, needs) => _
        .Description($"Rebuild the {stack} stack: its images built again without the cache (a failing build leaves the stack as it was), then its services stopped and started health-gated (on a swarm: rolled onto the new images).")
        .DependsOn(needs)
        .Executes(async ct => ReportSummary("Rebuilt", await Session.Stacks.RebuildAsync(stack, ct))));

    /// <summary>The targets CheckGpu runs before: every Start&lt;Stack&gt; and Rebuild&lt;Stack&gt; of the schema's stacks.</summary>
    Target[] Gated(SchemaOutline outline) =>
        [.. Named(StackTargets.All(StackTargets.Start, outline)), .. Named(StackTargets.All(StackTargets.Rebuild, outline), typeof(IImages))];

    /// <summary>The stacks this run starts or rebuilds (still scheduled, enabled), each with its target.</summary>
    IReadOnlyList<(string Stack, string Target)> PlannedStarts()
    {
        var planned = ExecutionPlan.Where(t => t.Status == ExecutionStatus.Scheduled).Select(t => t.Name).ToList();
        var deployed = planned.Contains(nameof(IDeploy.Deploy))
            ? SchemaFile.Outline().Stacks.Select(s => (Stack: s.Name, Target: nameof(IDeploy.Deploy)))
            : [];
        return new[] { StackTargets.Start, StackTargets.Rebuild }
            .SelectMany(verb => StackTargets.StacksOf(planned, verb, SchemaFile.Outline()).Select(stack => (Stack: stack, Target: StackTargets.Name(verb, stack))))
            .Concat(deployed)
            .Where(s => Session.IsEnabled(s.Stack))
            .ToList();
    }

    /// <summary>How each of Setup's steps ended (the targets it depends on), with the failing one's line.</summary>
    IReadOnlyList<SetupOutcome> SetupOutcomes() => Enum.GetValues<SetupStep>()
        .Select(step => ExecutionPlan.FirstOrDefault(t => t.Name == step.ToString()) is { } target ? SetupOutcome.Of(step, target.Status, target.SummaryInfo) : SetupOutcome.Of(step, null, null))
        .ToList();
}
