namespace Parse.Sample.Extending;

/// <summary>Adds the sample's dataset, encoder and strategy to PARSE's registries (<see cref="Components"/>).</summary>
public static class SampleComponents
{
    // Names are unique for the life of the process, so register exactly once however often the sample runs.
    private static readonly Lazy<bool> Registered = new(() =>
    {
        Components.Datasets.Register(TwoSensorDataset.Name, TwoSensorDataset.Generate,
            "tiny generated grid (6x6 image) + wave (16 steps) dataset, 8 classes");
        Components.Encoders.Register(ResidualMlpTrunk.Kind, ResidualMlpTrunk.Factory,
            "flatten, linear, then residual blocks x + relu(linear(layernorm(x)))");
        Components.Strategies.Register(NoRedundantHeadStrategy.StrategyName, _ => new NoRedundantHeadStrategy(),
            "PARSE without sharing the redundant head");
        return true;
    });

    /// <summary>Registers the components unless this process has done so already. Call before loading a config.</summary>
    public static void EnsureRegistered() => _ = Registered.Value;
}
