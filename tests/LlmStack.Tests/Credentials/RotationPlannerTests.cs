using LlmStack.ChangeControl;
using LlmStack.Pipeline;
using LlmStack.Schema;
using LlmStack.Security;
using LlmStack.Credentials;

namespace LlmStack.Tests.Credentials;

/// <summary>
/// RotateSecret's plan over fakes of the files, the running services and the actions: which steps for which running
/// services, the refusal when a stopped server's data holds the password, the steps applied in order with the verify
/// step's proof, and the rollback after a failure midway. Values are generated here.
/// </summary>
public sealed class RotationPlannerTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    private const string Path = "/repo/secrets/staging.env";

    private readonly ResolvedEnvironment _staging = Schema.Resolve("staging");
    private readonly IReadOnlyDictionary<string, SecretDefinition> _definitions = Schema.Load().Secrets;
    private readonly FakeFiles _files = new();
    private readonly FakeRunning _running;
    private readonly FakeActions _actions;

    public RotationPlannerTests()
    {
        _running = new FakeRunning(_staging);
        _actions = new FakeActions(_staging, _files, _running);
        _files.Files[Path] = _definitions.ToDictionary(d => d.Key, d => SecretStore.Generate(d.Value), StringComparer.Ordinal);
        _running.Passwords["multimodal"] = Values["POSTGRES_PASSWORD"];
    }

    private Dictionary<string, string> Values => _files.Files[Path];

    private RotationPlanner Planner => new(_staging, _files, _running, _actions);

    private Rotation NewRotation(string name) => new(name, _definitions[name]) { Next = SecretStore.Generate(_definitions[name]) };

    private Task<ChangePlan> PlanAsync(Rotation rotation) => Planner.PlanAsync(rotation, Path, _files.Read(Path), CancellationToken.None);

    private static (ChangeKind, string, ChangeAction)[] Steps(ChangePlan plan) => plan.Changes.Select(c => (c.Kind, c.Resource, c.Action)).ToArray();

    private static async Task<List<string?>> ApplyAsync(ChangePlan plan)
    {
        var details = new List<string?>();
        foreach (var change in plan.Changes)
        {
            details.Add(await change.Apply(CancellationToken.None));
        }

        return details;
    }

    [Fact]
    public async Task A_login_secret_changes_the_role_the_file_every_stack_with_a_running_reader_and_restarts_the_running_dependents()
    {
        _running.Run(Values, "postgres", "redis", "vllm", "litellm", "ai-agents", "ai-agents-web");
        var rotation = NewRotation("POSTGRES_PASSWORD");

        var plan = await PlanAsync(rotation);

        Steps(plan).Should().Equal(
            (ChangeKind.Role, "multimodal on postgres", ChangeAction.SetPassword),
            (ChangeKind.Secret, "POSTGRES_PASSWORD (staging.env)", ChangeAction.Rotate),
            (ChangeKind.Stack, "core", ChangeAction.Recreate),
            (ChangeKind.Stack, "inference", ChangeAction.Recreate),
            (ChangeKind.Stack, "ai", ChangeAction.Recreate),
            (ChangeKind.Services, "ai-agents-web", ChangeAction.Restart),
            (ChangeKind.Check, "POSTGRES_PASSWORD", ChangeAction.Verify));
        plan.Summary.Should().Be("rotate POSTGRES_PASSWORD (3 running service(s) read it)");
        plan.Changes[1].Why.Should().Be("written atomically; the previous value is appended to staging.history (0600)");
        plan.Changes[2].Why.Should().Be("postgres read POSTGRES_PASSWORD at start (StartCore: only changed services, health-gated)");
        plan.Changes[^1].Why.Should().Be("the running services use the new value; postgres accepts it and refuses the old one");
        plan.Kept.Should().OnlyContain(k => k.Kind == ChangeKind.Service && k.Why == "not running: it reads the new POSTGRES_PASSWORD when it starts")
            .And.Contain(k => k.Resource == "multimodal-worker").And.NotContain(k => k.Resource == "litellm" || k.Resource == "postgres");
        rotation.Previous.Should().Be(Values["POSTGRES_PASSWORD"]);
        rotation.Account.Should().Be("multimodal");
        _actions.Calls.Should().BeEmpty("planning changes nothing");
        rotation.Started.Should().BeFalse();
    }

    [Fact]
    public async Task Applied_in_order_the_steps_change_each_thing_once_and_the_verify_step_proves_the_new_password_and_refuses_the_old()
    {
        _running.Run(Values, "postgres", "litellm", "ai-agents-web");
        var rotation = NewRotation("POSTGRES_PASSWORD");
        var old = Values["POSTGRES_PASSWORD"];

        var details = await ApplyAsync(await PlanAsync(rotation));

        _actions.Calls.Should().Equal(
            "set-password postgres multimodal", "write staging.env POSTGRES_PASSWORD", "history staging.env POSTGRES_PASSWORD", "reload",
            "start core", "start inference", "restart ai-agents-web");
        details.Should().Equal(null, null, "Stack core is up", "Stack inference is up", null, "new value accepted, old refused");
        Values["POSTGRES_PASSWORD"].Should().Be(rotation.Next);
        _actions.History["POSTGRES_PASSWORD"].Should().Be(old);
        _running.Logins.Should().Equal("id-postgres multimodal", "id-postgres multimodal");
        rotation.Recreated.Should().Equal("core", "inference");
        rotation.Dependents.Should().Equal("ai-agents-web");
    }

    [Fact]
    public async Task The_verify_step_fails_when_a_running_reader_still_has_the_old_value_or_the_server_accepts_the_old_password()
    {
        _running.Run(Values, "postgres", "litellm");
        var rotation = NewRotation("POSTGRES_PASSWORD");
        var plan = await PlanAsync(rotation);
        var verify = plan.Changes[^1];
        await plan.Changes[0].Apply(CancellationToken.None);
        await plan.Changes[1].Apply(CancellationToken.None);
        await plan.Changes[2].Apply(CancellationToken.None); // core only: litellm still runs with the old value

        var stale = () => verify.Apply(CancellationToken.None);
        await stale.Should().ThrowAsync<PipelineException>().WithMessage("multimodal-staging-litellm-1 does not run with the new POSTGRES_PASSWORD");

        await plan.Changes[3].Apply(CancellationToken.None);
        _running.Passwords["multimodal"] = rotation.Previous; // the role change did not hold
        var refused = () => verify.Apply(CancellationToken.None);
        await refused.Should().ThrowAsync<PipelineException>().WithMessage("postgres refuses multimodal with the new value");
    }

    [Fact]
    public async Task A_stopped_server_whose_data_holds_the_password_refuses_the_rotation_and_without_data_the_role_is_kept()
    {
        _running.Run(Values, "litellm");
        _running.DataVolumes["postgres"] = "multimodal-staging_postgres_data";
        var refused = () => PlanAsync(NewRotation("POSTGRES_PASSWORD"));
        await refused.Should().ThrowAsync<PipelineException>().WithMessage(
            "postgres is not running but its data (multimodal-staging_postgres_data) holds the current password of multimodal: StartCore first, then RotateSecret --secret POSTGRES_PASSWORD");

        _running.DataVolumes.Clear();
        var plan = await PlanAsync(NewRotation("POSTGRES_PASSWORD"));
        Steps(plan).Should().Equal(
            (ChangeKind.Secret, "POSTGRES_PASSWORD (staging.env)", ChangeAction.Rotate),
            (ChangeKind.Stack, "inference", ChangeAction.Recreate),
            (ChangeKind.Check, "POSTGRES_PASSWORD", ChangeAction.Verify));
        plan.Kept.Should().ContainSingle(k => k.Kind == ChangeKind.Role).Which.Should().Be(
            new KeptResource(ChangeKind.Role, "multimodal on postgres", "no data yet: a new server is initialised with the new value"));
    }

    [Fact]
    public async Task A_secret_without_a_login_and_no_running_reader_only_rewrites_the_file_and_a_secret_not_in_the_file_is_refused()
    {
        _running.Run(Values, "redis");
        var plan = await PlanAsync(NewRotation("VLLM_API_KEY"));
        Steps(plan).Should().Equal(
            (ChangeKind.Secret, "VLLM_API_KEY (staging.env)", ChangeAction.Rotate),
            (ChangeKind.Check, "VLLM_API_KEY", ChangeAction.Verify));
        plan.Changes[^1].Why.Should().Be("the running services use the new value");
        (await ApplyAsync(plan))[^1].Should().Be("the running services use the new value");

        Values.Remove("JWT_SECRET_KEY");
        var missing = () => PlanAsync(NewRotation("JWT_SECRET_KEY"));
        await missing.Should().ThrowAsync<PipelineException>().WithMessage($"JWT_SECRET_KEY is not in {Path}: run SetupSecrets (there is nothing to rotate)");
    }

    [Fact]
    public async Task A_failure_midway_is_rolled_back_wherever_the_rotation_got_to()
    {
        _running.Run(Values, "postgres", "litellm");
        var old = Values["POSTGRES_PASSWORD"];
        var rotation = NewRotation("POSTGRES_PASSWORD");
        _actions.FailOn = "write";

        var apply = async () => await ApplyAsync(await PlanAsync(rotation));
        await apply.Should().ThrowAsync<IOException>();
        rotation.Started.Should().BeTrue("the role was changed");
        _actions.FailOn = null;
        _actions.Calls.Clear();

        (await rotation.RollbackAsync(Path, _actions, Serilog.Core.Logger.None)).Should().Be("role multimodal");
        _actions.Calls.Should().Equal("set-password postgres multimodal");
        _running.Passwords["multimodal"].Should().Be(old);
        Values["POSTGRES_PASSWORD"].Should().Be(old, "the file was never written");
    }

    [Fact]
    public async Task A_rollback_step_that_fails_is_named_and_the_others_still_run()
    {
        _running.Run(Values, "postgres", "ai-agents-web", "litellm");
        var old = Values["POSTGRES_PASSWORD"];
        var rotation = NewRotation("POSTGRES_PASSWORD");
        _actions.FailOn = "restart";

        var apply = async () => await ApplyAsync(await PlanAsync(rotation));
        await apply.Should().ThrowAsync<IOException>();
        _actions.Calls.Clear();

        var undone = await rotation.RollbackAsync(Path, _actions, Serilog.Core.Logger.None);

        undone.Should().Be("role multimodal; POSTGRES_PASSWORD in staging.env; stack core; stack inference; ai-agents-web FAILED (restart ai-agents-web failed)");
        _actions.Calls.Should().Equal(
            "set-password postgres multimodal", "write staging.env POSTGRES_PASSWORD", "reload", "start core", "start inference", "restart ai-agents-web");
        Values["POSTGRES_PASSWORD"].Should().Be(old);
        _running.Passwords["multimodal"].Should().Be(old);
    }

    [Fact]
    public async Task Nothing_changed_rolls_back_nothing()
    {
        var rotation = NewRotation("POSTGRES_PASSWORD");
        rotation.Started.Should().BeFalse();
        (await rotation.RollbackAsync(Path, _actions, Serilog.Core.Logger.None)).Should().Be("nothing had changed");
        _actions.Calls.Should().BeEmpty();
    }
}
