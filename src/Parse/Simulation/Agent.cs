using Parse.Config;
using Parse.Data;
using Parse.Model;
using Parse.Util;
using TorchSharp;

namespace Parse.Simulation;

/// <summary>Accuracy of one agent on its test view, for the ensemble and for each head.</summary>
public sealed record EvalResult(double Accuracy, double Loss, IReadOnlyDictionary<string, double> HeadAccuracy)
{
    /// <summary>
    /// With modality dynamics: accuracy on the full test set with every sensor working (<see cref="Accuracy"/> is with the
    /// agent's failed sensors and the test set's missing samples masked); null otherwise.
    /// </summary>
    public double? AllSensorsAccuracy { get; init; }
}

/// <summary>
/// One agent: its training data and batch sequence (its own random stream), its hold-out split for the
/// <c>stacked</c> ensemble, and its slice of a <see cref="Simulation.Learner"/>'s stacked model (<see cref="Model"/>).
/// The same class is used by every runtime: on the cluster and with <c>sim.batch_agents=false</c> every agent is
/// the only member of its learner (A = 1); in the simulator with batching on, the agents of one type train together.
/// </summary>
public sealed class Agent : IDisposable
{
    private readonly int _seed;
    private Random _rng;
    private int[] _order;
    private int _cursor;
    private long _shuffles;
    private Learner? _group;
    private bool _disposed;
    // model.ensemble_fit=rotating: fold of each training sample, the fold this round leaves out (-1: none), the fold the
    // weights are fitted on, and each fold's samples (made on first use)
    private readonly int[]? _fold;
    private int _leftOut = -1;
    private int _fitFold;
    private MultimodalData?[]? _foldData;

    /// <summary>Prepares an agent's data; it learns once a <see cref="Simulation.Learner"/> takes it in.</summary>
    /// <param name="id">Agent id (position on the base graph).</param>
    /// <param name="modalities">Modalities it holds.</param>
    /// <param name="train">Its local training data (owned from here on).</param>
    /// <param name="cfg">The experiment.</param>
    /// <param name="seed">Seed of its batch sequence and hold-out split.</param>
    /// <param name="stepsMultiplier">Local steps per round as a multiple of the configured ones (pooled learners).</param>
    /// <param name="type">Its type of <c>agents.types</c> (name and encoders); default: named by its modality set, default encoders.</param>
    public Agent(int id, IReadOnlyList<string> modalities, MultimodalData train, ExperimentConfig cfg, int seed, int stepsMultiplier = 1, AgentType? type = null)
    {
        Id = id;
        Modalities = modalities.OrderBy(m => m, StringComparer.Ordinal).ToList();
        if (Modalities.Count == 0) throw new ConfigException("an agent must hold at least one modality");
        Type = type ?? AgentType.Plain(Modalities);
        if (!Type.Modalities.SequenceEqual(Modalities))
            throw new ArgumentException($"agent {id}: type '{Type.Name}' holds [{string.Join(", ", Type.Modalities)}], not [{string.Join(", ", Modalities)}]", nameof(type));
        TypeName = Type.Name;
        bool stacked = cfg.Model.Ensemble == "stacked";
        if (stacked && cfg.Model.EnsembleFit == "rotating")
        {
            (Train, Holdout) = (train, null);
            _fold = AssignFolds(train.Count, cfg.Model.EnsembleHoldout, seed);
            if (_fold is not null)
            {
                EnsembleFolds = _fold.Max() + 1;
                _fitFold = EnsembleFolds - 1;
                _foldData = new MultimodalData?[EnsembleFolds];
            }
        }
        else (Train, Holdout) = stacked ? SplitHoldout(train, cfg.Model.EnsembleHoldout, seed) : (train, null);
        var t = cfg.Train;
        _seed = seed;
        _rng = new Random(seed);
        MissingRandom = new Random(Seeds.Derive(seed, "missing"));
        _order = Enumerable.Range(0, Train.Count).ToArray();
        _cursor = _order.Length;
        BatchSize = Math.Min(t.BatchSize, Train.Count);
        StepsPerRound = stepsMultiplier * (t.LocalEpochs is { } e ? Math.Max(1, (int)Math.Ceiling(e * Train.Count / BatchSize)) : t.LocalSteps);
    }

    /// <summary>Agent id (= position on the base graph).</summary>
    public int Id { get; }
    /// <summary>The learner that trains this agent (alone or with others of its type).</summary>
    public Learner Group => _group ?? throw new InvalidOperationException($"agent {Id} belongs to no learner yet");
    /// <summary>Index of the agent in its learner (and in the leading dimension of the stacked model).</summary>
    public int Index { get; private set; }
    /// <summary>The agent's view of the stacked model: parameter groups, heads, ensemble weights.</summary>
    public AgentModelView Model { get; private set; } = null!;
    /// <summary>Local training data (without the hold-out split).</summary>
    public MultimodalData Train { get; private set; }
    /// <summary>Local samples held out from training to fit the <c>stacked</c> ensemble (null otherwise).</summary>
    public MultimodalData? Holdout { get; }
    /// <summary>
    /// Number of folds of the <c>rotating</c> ensemble fit (<c>model.ensemble_fit</c>); 0 when the agent has none
    /// (another ensemble or fit, or fewer than <see cref="MinSamplesForHoldout"/> samples).
    /// </summary>
    public int EnsembleFolds { get; }
    /// <summary>Fold of training sample <paramref name="sample"/> (rotating fit; -1 without folds).</summary>
    public int FoldOf(int sample) => _fold?[sample] ?? -1;
    /// <summary>The fold the current round's training leaves out (rotating fit, during local training; -1 otherwise).</summary>
    public int LeftOutFold => _leftOut;
    /// <summary>The fold the <c>stacked</c> weights are fitted on now (rotating fit; -1 without folds).</summary>
    public int FitFold => _fold is null ? -1 : _fitFold;
    /// <summary>
    /// The samples the <c>stacked</c> weights are fitted on: the hold-out split, or (rotating fit) the fold the agent's
    /// last round of training left out; null when the weights are not fitted.
    /// </summary>
    public MultimodalData? EnsembleFitSet => Holdout ?? (_fold is null ? null : FoldData(_fitFold));
    /// <summary>Agent type name (<c>agents.types[i].name</c>, default the modality set).</summary>
    public string TypeName { get; }
    /// <summary>Its type: name, modalities and the encoders it chooses.</summary>
    public AgentType Type { get; }
    /// <summary>Held modalities, sorted.</summary>
    public IReadOnlyList<string> Modalities { get; }
    /// <summary>Samples per local step.</summary>
    public int BatchSize { get; }
    /// <summary>Local steps per round.</summary>
    public int StepsPerRound { get; }

    /// <summary>
    /// Modalities whose sensor is down in the current round (set by the agent's core from the dynamics schedule): their
    /// inputs are zero and masked in training and evaluation.
    /// </summary>
    public IReadOnlySet<string> Unavailable { get; set; } = new HashSet<string>();

    /// <summary>The agent's stream for per-sample missing modalities in training (<c>dynamics.train_missing</c>).</summary>
    internal Random MissingRandom { get; }

    /// <summary>Fewest local samples for which a hold-out split is made (smaller agents keep equal head weights).</summary>
    public const int MinSamplesForHoldout = 16;

    private static (MultimodalData Train, MultimodalData? Holdout) SplitHoldout(MultimodalData all, double fraction, int seed)
    {
        if (all.Count < MinSamplesForHoldout) return (all, null);
        int k = Math.Max(4, (int)Math.Round(fraction * all.Count));
        var order = Enumerable.Range(0, all.Count).ToArray();
        new Random(Seeds.Derive(seed, "holdout")).Shuffle(order);
        var holdout = all.Subset(order[..k]);
        var train = all.Subset(order[k..]);
        all.Dispose();
        return (train, holdout);
    }

    /// <summary>
    /// Folds of the rotating fit: K = round(1 / <paramref name="fraction"/>) (at least 2), samples dealt round-robin
    /// over a shuffled order (fold sizes differ by at most one); null below <see cref="MinSamplesForHoldout"/> samples.
    /// </summary>
    private static int[]? AssignFolds(int count, double fraction, int seed)
    {
        if (count < MinSamplesForHoldout) return null;
        int k = Math.Clamp((int)Math.Round(1 / fraction), 2, count / 4);
        var order = Enumerable.Range(0, count).ToArray();
        new Random(Seeds.Derive(seed, "holdout")).Shuffle(order);
        var fold = new int[count];
        for (int i = 0; i < count; i++) fold[order[i]] = i % k;
        return fold;
    }

    private MultimodalData FoldData(int f)
    {
        if (_foldData![f] is { } made) return made;
        return _foldData[f] = Train.Subset(Enumerable.Range(0, Train.Count).Where(i => _fold![i] == f).ToArray()).DetachFromDisposeScope();
    }

    /// <summary>
    /// Rotating fit, before round <paramref name="round"/>'s local training: the weights are fitted on fold
    /// (round - 1) mod K (the one the previous round left out) and this round's batches leave out fold round mod K.
    /// </summary>
    internal void BeginEnsembleRound(int round)
    {
        if (_fold is null) return;
        int k = EnsembleFolds;
        _fitFold = ((round - 1) % k + k) % k;
        _leftOut = ((round % k) + k) % k;
    }

    /// <summary>
    /// Rotating fit, resuming after <paramref name="completedRounds"/> rounds (a checkpoint): the weights are fitted on the
    /// fold the last completed round left out, as in an uninterrupted run.
    /// </summary>
    internal void ResumeEnsembleFolds(int completedRounds)
    {
        if (_fold is null || completedRounds <= 0) return;
        _fitFold = (completedRounds - 1) % EnsembleFolds;
        _leftOut = -1;
    }

    /// <summary>Rotating fit, after local training: from now on the weights are fitted on the fold that training left out.</summary>
    internal void EndEnsembleRound()
    {
        if (_fold is null || _leftOut < 0) return;
        _fitFold = _leftOut;
        _leftOut = -1;
    }

    /// <summary>Called by the learner that takes the agent in; <paramref name="train"/> replaces the training data when given.</summary>
    internal void Attach(Learner group, int index, MultimodalData? train)
    {
        if (_group is not null) throw new InvalidOperationException($"agent {Id} already belongs to a learner");
        _group = group;
        Index = index;
        Model = group.Model.Agent(index);
        if (train is not null)
        {
            Train.Dispose();
            Train = train;
            if (_foldData is not null) for (int f = 0; f < _foldData.Length; f++) { _foldData[f]?.Dispose(); _foldData[f] = null; }
        }
    }

    /// <summary>
    /// Indices (into <see cref="Train"/>) of the next training batch: epochs of a shuffled order, skipping the fold the
    /// current round leaves out (<see cref="LeftOutFold"/>).
    /// </summary>
    public long[] NextBatchIndices()
    {
        var batch = new long[BatchSize];
        for (int i = 0; i < BatchSize; i++)
        {
            int next;
            do
            {
                if (_cursor >= _order.Length)
                {
                    RandomExtensions.Shuffle(_rng, _order);
                    _shuffles++;
                    _cursor = 0;
                }
                next = _order[_cursor++];
            }
            while (_leftOut >= 0 && _fold![next] == _leftOut);   // rotating ensemble fit: this round leaves the fold out
            batch[i] = next;
        }
        return batch;
    }

    /// <summary>
    /// Where the agent's batch sequence stands: how many times its order was shuffled and the position in the current
    /// order. Saved in checkpoints so that a resumed agent draws exactly the batches an uninterrupted one would.
    /// </summary>
    public SamplerState Sampler => new(_shuffles, _cursor);

    /// <summary>
    /// Puts the batch sequence where <paramref name="state"/> says (replays the shuffles from the agent's seed, so the
    /// random stream continues exactly as it would have). Throws <see cref="InvalidDataException"/> if it does not fit.
    /// </summary>
    public void RestoreSampler(SamplerState state)
    {
        if (state.Shuffles < 0 || state.Cursor < 0 || state.Cursor > _order.Length || (state.Shuffles == 0 && state.Cursor != _order.Length && state.Cursor != 0))
            throw new InvalidDataException($"agent {Id}: sampler state {state} does not fit {_order.Length} training samples");
        _rng = new Random(_seed);
        _order = Enumerable.Range(0, _order.Length).ToArray();
        for (long k = 0; k < state.Shuffles; k++) RandomExtensions.Shuffle(_rng, _order);
        _shuffles = state.Shuffles;
        _cursor = state.Shuffles == 0 ? _order.Length : state.Cursor;
    }

    /// <summary>
    /// Runs one round of local optimization; returns the mean training loss. Only for an agent that is its learner's
    /// only member: a learner of several agents trains them together (<see cref="Learner.LocalTrain"/>).
    /// </summary>
    /// <param name="round">0-based round (lets the strategy freeze groups, see <see cref="Learner.LocalTrain"/>); -1: none.</param>
    public double LocalTrain(int round = -1)
    {
        if (Group.Agents.Count != 1)
            throw new InvalidOperationException($"agent {Id} trains together with {Group.Agents.Count - 1} other agent(s); train its learner");
        return Group.LocalTrain(round)[0];
    }

    /// <summary>Fits the <c>stacked</c> ensemble's head weights on the hold-out split (see <see cref="Learner.FitEnsembleWeights"/>).</summary>
    public void FitEnsembleWeights(IReadOnlySet<string>? dropHeads = null) => Group.FitEnsembleWeights(dropHeads, [Index]);

    /// <summary>
    /// Gradient of the training loss on a fixed probe batch (the first <paramref name="probe"/> local samples),
    /// flattened per parameter group key. Does not change parameters, optimizer state or the batch sequence.
    /// </summary>
    public Dictionary<string, float[]> ProbeGradients(int probe = 64) => Group.ProbeGradients(probe, [Index])[0];

    /// <summary>Accuracy on <paramref name="test"/> using only this agent's modalities.</summary>
    public EvalResult Evaluate(MultimodalData test, IReadOnlySet<string>? dropHeads = null) => Group.Evaluate(test, dropHeads, [Index])[0];

    /// <summary>Slice-drop at inference: accuracy with each head kind left out (see <see cref="Learner.SliceDrop"/>).</summary>
    public Dictionary<string, double> SliceDrop(MultimodalData test) => Group.SliceDrop(test, [Index])[0];

    /// <summary>Disposes the agent's data and releases its learner (disposed with its last agent).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Train.Dispose();
        Holdout?.Dispose();
        if (_foldData is not null) foreach (var d in _foldData) d?.Dispose();
        _group?.Release();
    }
}

/// <summary>Position in an agent's batch sequence (see <see cref="Agent.Sampler"/>).</summary>
/// <param name="Shuffles">Times the sample order has been reshuffled from the agent's seed.</param>
/// <param name="Cursor">Next position in the current order.</param>
public readonly record struct SamplerState(long Shuffles, int Cursor);
