using Parse.Simulation;
using TorchSharp;

namespace Parse.Reporting;

/// <summary>
/// The scalars of a run as TensorBoard event files in <c>RUN/tensorboard/</c>, written with TorchSharp's
/// <c>torch.utils.tensorboard.SummaryWriter</c>. One point per evaluated round (the step is the round):
/// <list type="bullet">
/// <item><c>accuracy/TYPE</c>: mean test accuracy of the honest agents of each agent type, and <c>accuracy/all</c>;</item>
/// <item><c>loss/test</c>, <c>loss/train</c>: mean over honest agents;</item>
/// <item><c>bytes/sent_total</c>: bytes sent by all agents so far; <c>bytes/per_round</c>: bytes sent per round since the previous evaluation.</item>
/// </list>
/// Wall times are whole seconds since the Unix epoch (TorchSharp takes them as an integer).
/// View with <c>tensorboard --logdir runs</c>.
/// </summary>
public sealed class TensorBoardLog
{
    /// <summary>Name of the directory inside a run directory.</summary>
    public const string DirectoryName = "tensorboard";

    private readonly TorchSharp.Modules.SummaryWriter _writer;
    private readonly HashSet<int> _attackers;
    private int _lastRound;
    private long _lastBytes;

    /// <summary>Starts a new event file in <c><paramref name="runDir"/>/tensorboard</c>.</summary>
    /// <param name="runDir">Run directory (or its staging directory).</param>
    /// <param name="attackers">Agents left out of the accuracy and loss means (their bytes still count).</param>
    public TensorBoardLog(string runDir, IEnumerable<int> attackers)
    {
        string dir = Path.Combine(runDir, DirectoryName);
        Directory.CreateDirectory(dir);
        _writer = torch.utils.tensorboard.SummaryWriter(dir);
        _attackers = attackers.ToHashSet();
    }

    /// <summary>Tag of an agent type's accuracy: <c>accuracy/TYPE</c> ('/' and spaces in the type become '_').</summary>
    public static string AccuracyTag(string type) => "accuracy/" + type.Replace('/', '_').Replace(' ', '_');

    /// <summary>Adds one evaluated round (every agent's metrics of that round); rounds must come in increasing order.</summary>
    public void Add(int round, IReadOnlyCollection<AgentRoundMetrics> metrics)
    {
        if (metrics.Count == 0) return;
        long wall = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var honest = metrics.Where(m => !_attackers.Contains(m.Agent)).ToList();
        if (honest.Count > 0)
        {
            foreach (var g in honest.GroupBy(m => m.Type).OrderBy(g => g.Key, StringComparer.Ordinal))
                _writer.add_scalar(AccuracyTag(g.Key), (float)g.Average(m => m.Accuracy), round, wall);
            _writer.add_scalar("accuracy/all", (float)honest.Average(m => m.Accuracy), round, wall);
            _writer.add_scalar("loss/test", (float)honest.Average(m => m.TestLoss), round, wall);
            _writer.add_scalar("loss/train", (float)honest.Average(m => m.TrainLoss), round, wall);
        }
        long bytes = metrics.Sum(m => m.BytesSent);
        _writer.add_scalar("bytes/sent_total", bytes, round, wall);
        _writer.add_scalar("bytes/per_round", (float)((bytes - _lastBytes) / (double)Math.Max(1, round - _lastRound)), round, wall);
        _lastRound = round;
        _lastBytes = bytes;
    }

    /// <summary>
    /// Writes the whole run (every evaluated round of <paramref name="r"/>) into a fresh <c>tensorboard/</c> directory of
    /// <paramref name="runDir"/>, replacing the events written while the run went on. Both runtimes end with this, so the
    /// events of a finished run are the same whichever runtime produced them.
    /// </summary>
    public static void WriteAll(string runDir, SimulationResult r)
    {
        string dir = Path.Combine(runDir, DirectoryName);
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        var log = new TensorBoardLog(runDir, r.Attackers);
        foreach (var g in r.Metrics.GroupBy(m => m.Round).OrderBy(g => g.Key)) log.Add(g.Key, g.ToList());
    }
}
