using System.Globalization;
using Parse.Config;
using Parse.Util;

namespace Parse.Simulation;

/// <summary>
/// The simulator's virtual clock models (<c>timing.*</c>): how long an agent's local round takes and how long a
/// payload travels, in virtual milliseconds. Every draw is a pure function of (seed, agent, round, ...), so a run is
/// reproducible whatever order events are processed in.
/// </summary>
public sealed class TimingModel
{
    private readonly TimingConfig _t;
    private readonly int _seed;
    private readonly HashSet<int> _stragglers;
    private readonly Dictionary<(int Agent, int Round), double> _trace = new();

    /// <summary>Builds the model for <paramref name="agents"/> agents; reads <c>timing.trace</c> relative to <paramref name="baseDir"/>.</summary>
    public TimingModel(TimingConfig t, int agents, int seed, string baseDir)
    {
        _t = t;
        _seed = seed;
        var order = Enumerable.Range(0, agents).ToArray();
        RandomExtensions.Shuffle(new Random(Seeds.Derive(seed, "stragglers")), order);
        _stragglers = order.Take((int)Math.Round(t.StragglerFraction * agents)).ToHashSet();
        if (t.Trace is { } trace) ReadTrace(Path.IsPathRooted(trace) ? trace : Path.Combine(baseDir, trace), agents);
    }

    /// <summary>Agents slowed down by <c>timing.straggler_slowdown</c>.</summary>
    public IReadOnlySet<int> Stragglers => _stragglers;

    /// <summary>Virtual milliseconds of <paramref name="agent"/>'s local training in <paramref name="round"/>.</summary>
    public double ComputeMs(int agent, int round)
    {
        if (_trace.TryGetValue((agent, round), out double traced)) return traced;
        double ms = _t.ComputeMs * (_stragglers.Contains(agent) ? _t.StragglerSlowdown : 1);
        if (_t.ComputeJitter > 0)
        {
            var rng = new Random(Seeds.Derive(_seed, "compute", agent, round));
            ms *= Math.Exp(_t.ComputeJitter * rng.NextGaussian() - _t.ComputeJitter * _t.ComputeJitter / 2);
        }
        return ms;
    }

    /// <summary>Virtual milliseconds a payload of <paramref name="round"/> takes from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public double LatencyMs(int from, int to, int round, int message)
    {
        double ms = _t.LatencyMs;
        if (_t.LatencyJitterMs > 0)
            ms += new Random(Seeds.Derive(_seed, "latency", from, to, round, message)).NextDouble() * _t.LatencyJitterMs;
        return ms;
    }

    private void ReadTrace(string path, int agents)
    {
        if (!File.Exists(path)) throw new ConfigException($"timing.trace: file not found: {path}");
        int line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            string text = raw.Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            if (line == 1 && text.Replace(" ", "") == "agent,round,compute_ms") continue;
            var f = text.Split(',');
            if (f.Length != 3 || !int.TryParse(f[0], CultureInfo.InvariantCulture, out int a) || !int.TryParse(f[1], CultureInfo.InvariantCulture, out int r)
                || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms))
                throw new ConfigException($"timing.trace: {path} line {line}: expected 'agent,round,compute_ms' (got '{text}')");
            if (a < 0 || a >= agents) throw new ConfigException($"timing.trace: {path} line {line}: agent {a} is not in 0..{agents - 1}");
            if (r < 1) throw new ConfigException($"timing.trace: {path} line {line}: round must be >= 1 (got {r})");
            if (!(ms > 0) || !double.IsFinite(ms)) throw new ConfigException($"timing.trace: {path} line {line}: compute_ms must be a finite number > 0 (got {f[2]})");
            _trace[(a, r)] = ms;
        }
    }
}
