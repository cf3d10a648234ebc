using System.Text;
using Parse.Config;
using Parse.Simulation;

namespace Parse.Reporting;

/// <summary>
/// Appends every agent's metrics to <c>NAME.partial/metrics.jsonl</c> at each evaluated round while a run goes on
/// (the same lines the finished run's metrics.jsonl holds), then passes the progress on. Each evaluation is appended
/// and flushed as a whole, so a reader sees complete lines; the finished run rewrites the file in one rename.
/// The same rounds go to TensorBoard event files in <c>NAME.partial/tensorboard/</c> (<see cref="TensorBoardLog"/>).
/// </summary>
public sealed class LiveMetrics : IProgress<RoundProgress>, IDisposable
{
    private readonly RunDirectory _dir;
    private readonly ExperimentConfig _cfg;
    private readonly Func<int, IEnumerable<AgentRoundMetrics>> _ofRound;
    private readonly IProgress<RoundProgress>? _next;
    private readonly IReadOnlyCollection<int> _attackers;
    private FileStream? _file;
    private TensorBoardLog? _tensorBoard;

    /// <param name="dir">Run directory being staged.</param>
    /// <param name="cfg">The run's config (strategy and seed columns).</param>
    /// <param name="ofRound">Every agent's metrics of an evaluated round (read when the round is reported).</param>
    /// <param name="next">Progress to pass notifications on to (e.g. the console).</param>
    /// <param name="attackers">Agents left out of the TensorBoard accuracy and loss means.</param>
    public LiveMetrics(RunDirectory dir, ExperimentConfig cfg, Func<int, IEnumerable<AgentRoundMetrics>> ofRound, IProgress<RoundProgress>? next,
        IReadOnlyCollection<int>? attackers = null)
    {
        _attackers = attackers ?? [];
        _dir = dir;
        _cfg = cfg;
        _ofRound = ofRound;
        _next = next;
    }

    /// <summary>Appends the evaluated round's metrics, then reports to the next progress.</summary>
    public void Report(RoundProgress value)
    {
        if (value.Evaluated)
        {
            var sb = new StringBuilder();
            var metrics = _ofRound(value.Round).OrderBy(m => m.Agent).ToList();
            foreach (var m in metrics)
                sb.Append(RunWriter.MetricJson(m, _dir.Name, _cfg).ToJsonString(RunJson.Line)).Append('\n');
            _file ??= new FileStream(_dir.File("metrics.jsonl"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            _file.Write(Encoding.UTF8.GetBytes(sb.ToString()));
            _file.Flush(flushToDisk: false);
            _tensorBoard ??= new TensorBoardLog(_dir.StagingPath, _attackers);
            _tensorBoard.Add(value.Round, metrics);
        }
        _next?.Report(value);
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }
}
