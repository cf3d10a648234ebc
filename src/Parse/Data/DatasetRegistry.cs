using Parse.Config;

namespace Parse.Data;

/// <summary>Loads datasets by <c>data.name</c>, from <see cref="Components.Datasets"/>.</summary>
public static class DatasetRegistry
{
    /// <summary>The registry behind <see cref="Components.Datasets"/>, holding the built-ins from the start.</summary>
    internal static ComponentRegistry<Func<DatasetRequest, DatasetBundle>> Registry { get; } = BuiltIns();

    private static ComponentRegistry<Func<DatasetRequest, DatasetBundle>> BuiltIns()
    {
        var r = new ComponentRegistry<Func<DatasetRequest, DatasetBundle>>("dataset");
        r.Register("synthetic-pid", q => new SyntheticPid(q.Config).Generate(q.AgentCount * q.Config.SamplesPerAgent, q.Seed),
            "generated redundant/unique/synergistic label bits with a closed-form ceiling");
        r.Register("av-mnist", q => AvMnist.Load(q.Config, q.BaseDir, q.Seed, q.Log, q.Cancellation), "MNIST digits paired with spoken digits (log-mel)");
        r.Register("multiview-csv", q => MultiviewCsv.Load(q.Config, q.BaseDir, q.Seed, q.AgentCount, q.HostedAgents, q.Log, q.Cancellation), "any tabular multi-view data from CSV files");
        r.Register("ts", q => TsDataset.Load(q.Config, q.BaseDir, q.Seed), "time-series classification (sktime/UEA .ts files), channel groups as modalities");
        return r;
    }

    /// <summary>Names accepted in <c>data.name</c> (built-in and registered).</summary>
    public static IReadOnlyList<string> Names => Registry.Names;

    /// <summary>Loads or generates the dataset for <paramref name="agentCount"/> agents; relative paths resolve against <paramref name="baseDir"/> (the config's directory).</summary>
    /// <param name="cfg">The data section.</param>
    /// <param name="agentCount">Number of agents.</param>
    /// <param name="seed">Experiment seed.</param>
    /// <param name="baseDir">Directory of the config file.</param>
    /// <param name="hostedAgents">Agents this process hosts (null: all); see <see cref="DatasetRequest.HostedAgents"/>.</param>
    /// <param name="ct">Stops a long load when cancelled (Ctrl-C, SIGTERM).</param>
    public static DatasetBundle Load(DataConfig cfg, int agentCount, int seed, string baseDir, IReadOnlySet<int>? hostedAgents = null, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var bundle = Registry.Resolve("data.name", cfg.Name)(new DatasetRequest(cfg, agentCount, seed, baseDir) { HostedAgents = hostedAgents, Cancellation = ct });
        if (ct.IsCancellationRequested) { bundle.Dispose(); ct.ThrowIfCancellationRequested(); }
        return bundle;
    }
}
