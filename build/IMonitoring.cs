using LlmStack.Monitoring;
using LlmStack.Pipeline;

/// <summary>
/// The monitoring files generated from the configurations: Prometheus' configuration and backup alert rules (thresholds
/// from the backup schedules), Grafana's datasource, dashboard provider and backup dashboard. See docs/OPERATIONS.md.
/// </summary>
interface IMonitoring : IHazEnvironment
{
    Target GenerateMonitoring => _ => _
        .Description("Write configs/prometheus/prometheus.yml, configs/prometheus/rules/*.yml (alert thresholds from the backup schedules), the Grafana provisioning and configs/grafana/dashboards/*.json; byte-identical on a re-run.")
        .Executes(() => MonitoringFiles.Generate(RootDirectory, MonitoringFiles.Render(SchemaFile, BackupConfig), Log));

    Target CheckMonitoring => _ => _
        .Description("Regenerate the monitoring files and fail, naming every differing file, when the committed ones differ; check the dashboard offline (datasource uid, metrics, panel ids and grid, variables, the schema's mounts).")
        .Executes(() => MonitoringFiles.Check(RootDirectory, MonitoringFiles.Render(SchemaFile, BackupConfig), SchemaFile.Load(), Log));
}
