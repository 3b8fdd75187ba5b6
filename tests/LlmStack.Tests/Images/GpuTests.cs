using Docker.DotNet.Models;
using LlmStack.Images;
using LlmStack.Pipeline;
using LlmStack.Reporting;
using LlmStack.Schema;

namespace LlmStack.Tests.Images;

/// <summary>GPU verdicts from a fake docker info and nvidia-smi output, against the default schema's environments.</summary>
public class GpuTests
{
    private static readonly SchemaFile Schema = new(Repository.Root, "schemas/compose-schema.yaml");

    /// <summary>docker info of Debian's docker.io 20.10 without the NVIDIA toolkit (this CI host).</summary>
    private static SystemInfoResponse PlainEngine() => new()
    {
        Runtimes = new Dictionary<string, RuntimeWithStatus> { ["runc"] = new(), ["io.containerd.runc.v2"] = new(), ["io.containerd.runtime.v1.linux"] = new() },
        DefaultRuntime = "runc",
    };

    /// <summary>docker info after nvidia-ctk runtime configure --runtime=docker.</summary>
    private static SystemInfoResponse NvidiaEngine()
    {
        var info = PlainEngine();
        info.Runtimes["nvidia"] = new RuntimeWithStatus { Path = "nvidia-container-runtime" };
        return info;
    }

    private static readonly IReadOnlyList<GpuDevice> TwoGpus = GpuHost.ParseNvidiaSmi(
    [
        "0, NVIDIA GeForce RTX 3090, 24576, 550.54.14, GPU-0a1b2c3d-0000-0000-0000-000000000000",
        "1, NVIDIA GeForce RTX 3090, 24576, 550.54.14, GPU-4e5f6a7b-0000-0000-0000-000000000000",
    ]);

    [Fact]
    public void Nvidia_smi_lines_are_read_as_gpus()
    {
        TwoGpus.Should().HaveCount(2);
        TwoGpus[1].Should().Be(new GpuDevice("1", "NVIDIA GeForce RTX 3090", 24576, "550.54.14", "GPU-4e5f6a7b-0000-0000-0000-000000000000"));
    }

    [Fact]
    public void Without_a_gpu_runtime_staging_is_refused_naming_its_gpu_services_and_the_way_out()
    {
        var host = GpuHost.From(PlainEngine(), null, "nvidia-smi not found");
        host.HasGpuRuntime.Should().BeFalse();

        var staging = GpuVerdict.Judge(host, Schema.Resolve("staging"));

        staging.Kind.Should().Be(GpuVerdictKind.NoRuntime);
        staging.Requests.Select(r => r.Service).Should().BeEquivalentTo("vllm", "multimodal-worker", "retrieval-proxy", "ai-agents", "search-engine");
        staging.Text.Should().Contain("vllm (device ids 0, 1)").And.Contain("no GPU runtime (runtimes: io.containerd.runc.v2, io.containerd.runtime.v1.linux, runc)")
            .And.Contain("use an environment with gpu: false");
        GpuVerdict.Judge(host, Schema.Resolve("staging"), ["inference"]).Refusal("StartInference")
            .Should().StartWith("StartInference need(s) GPUs in environment staging (gpu: true): vllm (device ids 0, 1) ask(s) for GPUs");
    }

    [Theory]
    [InlineData("development")]
    [InlineData("testing")]
    public void An_environment_with_gpu_false_needs_nothing(string environment)
    {
        var verdict = GpuVerdict.Judge(GpuHost.From(PlainEngine(), null, "nvidia-smi not found"), Schema.Resolve(environment));
        verdict.Kind.Should().Be(GpuVerdictKind.NotNeeded);
        verdict.Refused.Should().BeFalse();
        verdict.Requests.Should().BeEmpty("gpu: false drops every request");
    }

    [Fact]
    public void Core_alone_needs_no_gpu_even_in_staging()
    {
        GpuVerdict.Judge(GpuHost.From(PlainEngine(), null, "-"), Schema.Resolve("staging"), ["core"]).Kind.Should().Be(GpuVerdictKind.NotNeeded);
    }

    [Fact]
    public void With_the_nvidia_runtime_and_the_devices_staging_is_ready()
    {
        var verdict = GpuVerdict.Judge(GpuHost.From(NvidiaEngine(), TwoGpus, "nvidia-smi"), Schema.Resolve("staging"));
        verdict.Kind.Should().Be(GpuVerdictKind.Ready, verdict.Text);
    }

    [Fact]
    public void Device_ids_the_host_does_not_have_are_named()
    {
        var verdict = GpuVerdict.Judge(GpuHost.From(NvidiaEngine(), TwoGpus.Take(1).ToList(), "nvidia-smi"), Schema.Resolve("production"));
        verdict.Kind.Should().Be(GpuVerdictKind.MissingDevices);
        verdict.Text.Should().StartWith("device id(s) 1 (vllm) asked for, but the host has GPU(s) 0");
    }

    [Fact]
    public void A_cdi_device_counts_as_a_gpu_runtime_and_without_nvidia_smi_the_devices_are_the_engines_to_check()
    {
        var info = PlainEngine();
        info.DiscoveredDevices = [new DeviceInfo { Source = "cdi", ID = "nvidia.com/gpu=0" }];
        var host = GpuHost.From(info, null, "nvidia-smi not found");
        host.HasGpuRuntime.Should().BeTrue();
        GpuVerdict.Judge(host, Schema.Resolve("staging")).Kind.Should().Be(GpuVerdictKind.Ready);
    }

    [Fact]
    public void The_report_has_a_verdict_per_environment_and_fails_for_the_runs_refused_one()
    {
        var host = GpuHost.From(PlainEngine(), null, "nvidia-smi not found (no NVIDIA driver on this host)");
        var verdicts = Schema.Load().Environments.Keys.Select(e => GpuVerdict.Judge(host, Schema.Resolve(e))).ToList();

        var output = new StringWriter();
        var write = () => ReportWriter.Text(output).Write(GpuReport.Of(host, verdicts, "staging"));

        write.Should().Throw<PipelineException>().WithMessage("environment staging cannot run its GPU services on this host: *");
        var text = output.ToString();
        text.Should().Contain("Engine: GPU runtime no").And.Contain("Host: nvidia-smi not found");
        text.Should().MatchRegex(@"development\s+false\s+-\s+not needed").And.MatchRegex(@"production\s+true\s+vllm \(device ids 0, 1\).*no GPU runtime");
        var development = () => ReportWriter.Text(new StringWriter()).Write(GpuReport.Of(host, verdicts, "development"));
        development.Should().NotThrow("development asks for no GPU");

        var json = new StringWriter();
        var jsonWrite = () => new ReportWriter(new StringWriter(), json, json: true).Write(GpuReport.Of(host, verdicts, "testing"));
        jsonWrite.Should().NotThrow();
        json.ToString().Should().Contain("\"gpuRuntime\": false").And.Contain("\"verdict\": \"noRuntime\"").And.Contain("\"verdict\": \"notNeeded\"");
    }
}
