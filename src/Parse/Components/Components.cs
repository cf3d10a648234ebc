using Parse.Config;
using Parse.Data;
using Parse.Federation.Payload;
using Parse.Federation.Sharing;
using Parse.Federation.Topology;
using Parse.Model;

namespace Parse;

/// <summary>
/// Every pluggable component of PARSE in one place: the registries that map the names used in configs
/// (<c>strategy</c>, <c>data.name</c>, <c>model.encoders.*.kind</c>, <c>model.fusion</c>, <c>payload.processors</c>,
/// <c>topology.kind</c>, <c>mixing.rule</c>) to factories.
/// </summary>
/// <remarks>
/// <para>The registries are process-wide and hold the built-in components from the start. To add your own, register
/// it once at start-up, before loading a config (<see cref="ConfigLoader"/> validates names against the registries)
/// and before running an experiment, e.g.
/// <c>Components.Datasets.Register("my-data", request =&gt; MyData.Load(request), "my sensors")</c>.
/// Registration is thread-safe; names are unique and an entry can be neither replaced nor removed, so a name that
/// is taken (including a built-in one) throws. See docs/extending.md.</para>
/// <para>The simulator and the cluster runtime create components through the same registries, so a registered
/// component works in both, provided every process of a cluster registers it.</para>
/// </remarks>
public static class Components
{
    /// <summary>
    /// Sharing strategies by <c>strategy</c>. The factory receives the experiment config (null when the caller has
    /// none, e.g. a unit test building a strategy alone) and returns an <see cref="ISharingStrategy"/>.
    /// </summary>
    public static ComponentRegistry<Func<ExperimentConfig?, ISharingStrategy>> Strategies => StrategyRegistry.Registry;

    /// <summary>
    /// Datasets by <c>data.name</c>. The factory receives a <see cref="DatasetRequest"/> (the <c>data</c> section,
    /// agent count, seed, config directory) and returns a <see cref="DatasetBundle"/> whose training pool is then
    /// partitioned among the agents. Its modalities must be the configured <c>data.modalities</c>.
    /// </summary>
    public static ComponentRegistry<Func<DatasetRequest, DatasetBundle>> Datasets => DatasetRegistry.Registry;

    /// <summary>
    /// Encoder trunks by <c>model.encoders.*.kind</c>. An <see cref="EncoderFactory"/> builds the trunk of one
    /// modality for A agents (batched-first: input [A, N, ...] to [A, N, hidden], parameters with a leading agent
    /// dimension) and names its architecture (part of the encoder's sharing keys).
    /// </summary>
    public static ComponentRegistry<EncoderFactory> Encoders => TrunkFactory.Registry;

    /// <summary>
    /// Fusion operators by <c>model.fusion</c>. The factory receives a <see cref="FusionRequest"/> (slice count, width
    /// and agent count) and returns a batched-first <see cref="Fusion"/> (slices [A, N, d], parameters with a leading
    /// agent dimension).
    /// </summary>
    public static ComponentRegistry<Func<FusionRequest, Fusion>> Fusions => Fusion.Registry;

    /// <summary>
    /// Payload processors by the names in <c>payload.processors</c>. The factory returns a new
    /// <see cref="IPayloadProcessor"/>; validation of shapes and finiteness always runs before the named processors.
    /// </summary>
    public static ComponentRegistry<Func<IPayloadProcessor>> PayloadProcessors => PayloadPipeline.Registry;

    /// <summary>
    /// Base communication graphs by <c>topology.kind</c>. The factory receives a <see cref="TopologyRequest"/>
    /// (the <c>topology</c> section, agent count, seed, config directory) and returns an <see cref="ITopology"/>.
    /// </summary>
    public static ComponentRegistry<Func<TopologyRequest, ITopology>> Topologies => TopologyFactory.Registry;

    /// <summary>
    /// Mixing rules by <c>mixing.rule</c>. The factory receives the experiment config and returns an
    /// <see cref="Federation.Mixing.IMixer"/>, which the agent core calls once per shared group per round, in both
    /// runtimes.
    /// </summary>
    public static ComponentRegistry<Func<ExperimentConfig, Federation.Mixing.IMixer>> Mixers => Federation.Mixing.MixerRegistry.Registry;

    /// <summary>
    /// Byzantine behaviours by <c>attack.kind</c> (robustness studies). The factory receives the <c>attack</c> section
    /// and returns an <see cref="Federation.Attacks.IAttack"/>, run by the attacking agents' cores in both runtimes.
    /// </summary>
    public static ComponentRegistry<Func<AttackConfig, Federation.Attacks.IAttack>> Attacks => Federation.Attacks.AttackRegistry.Registry;
}
