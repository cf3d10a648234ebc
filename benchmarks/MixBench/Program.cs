// Mixing cost of one round at 999 agents (333 per type, the shapes of benchmarks/perf-quickstart-1000.yaml), degree 4
// (chordal ring): Metropolis-Hastings agent by agent (what the simulator does) vs each robust rule agent by agent and
// batched over the stacked store (RowMixer.MixBatch). The variants run interleaved, several repetitions, on one thread;
// the figure is process CPU time (less sensitive to other processes than wall time), median over repetitions.
// Usage: MixBench [CONFIG] [REPETITIONS] [RULE-FILTER] (with a filter, only the variants whose name contains it, and metropolis)
using System.Diagnostics;
using Parse.Config;
using Parse.Federation.Mixing;
using Parse.Model;
using Parse.Simulation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

string configPath = args.Length > 0 ? args[0] : "benchmarks/perf-quickstart-1000.yaml";
int reps = args.Length > 1 ? int.Parse(args[1]) : 5;
string? only = args.Length > 2 ? args[2] : null;
const int PerType = 333, Degree = 4, Pool = 8;
torch.set_num_threads(1);
torch.manual_seed(1);

// the groups each agent type shares, from a small run of the same config
var cfg = ConfigLoader.Load(configPath, ["agents.count=9", "topology.kind=chordal-ring"]);
using var sim = new Simulator(cfg, ".");
var stores = new List<(string Type, List<Parameter> Store, List<ParameterGroup> Groups, List<Tensor>[] Pool)>();
using (torch.no_grad())
    foreach (var core in sim.Cores.GroupBy(c => c.Learner.TypeName).Select(g => g.First()))
    {
        var shared = core.SharedKeys.ToHashSet();
        foreach (var g in core.Learner.Model.Groups.Where(g => shared.Contains(g.Key)))
        {
            var store = g.Shapes.Select(s => new Parameter(torch.randn([PerType, .. s]), requires_grad: false)).ToList();
            var views = Enumerable.Range(0, PerType)
                .Select(a => new ParameterGroup(g.Name, g.Role, g.Modality, store.Select(p => p.detach().select(0, a)).ToList(), store, a)).ToList();
            var pool = Enumerable.Range(0, Pool).Select(_ => g.Shapes.Select(s => torch.randn(s)).ToList()).ToArray();
            stores.Add((core.Learner.TypeName, store, views, pool));
        }
    }
long values = stores.Sum(s => s.Groups[0].NumElements * PerType);
Console.WriteLine($"{stores.Count} stores (type x group), {3 * PerType} agents, degree {Degree}, {values:N0} values mixed per round");

List<Contribution> Received(int a, List<Tensor>[] pool) =>
    Enumerable.Range(0, Degree).Select(k => new Contribution(1000 + k, Degree, pool[(a + k) % Pool], 0)).ToList();

var variants = new List<(string Name, Action Run)>();
void PerAgent(string name, IMixer mixer) => Add(name, () =>
{
    foreach (var (_, _, groups, pool) in stores)
        foreach (var g in groups)
        {
            using var scope = torch.NewDisposeScope();
            mixer.Mix(g.Parameters, Degree, Received(g.Agent, pool));
        }
});
void Batched(string name, IBatchedMixer mixer) => Add(name, () =>
{
    foreach (var (_, _, groups, pool) in stores)
    {
        using var scope = torch.NewDisposeScope();
        mixer.MixBatch(groups.Select(g => new MixTask(g, Degree, Received(g.Agent, pool))).ToList());
    }
});
void Add(string name, Action run)
{
    if (only is null || name.StartsWith("metropolis", StringComparison.Ordinal) || name.Contains(only, StringComparison.Ordinal)) variants.Add((name, run));
}
PerAgent("metropolis (agent by agent)", new MetropolisMixer());
foreach (var (rule, make) in new (string, Func<RowMixer>)[]
{
    ("median", () => new MedianMixer()), ("trimmed-mean", () => new TrimmedMeanMixer(1)),
    ("clipped-gossip", () => new ClippedGossipMixer(null)), ("multi-krum", () => new KrumMixer(1, multi: true)),
    ("krum", () => new KrumMixer(1, multi: false)),
    ("clipped-gossip own-history drop", () => new ClippedGossipMixer(null, ClipRadius.OwnHistory, 2.0, drop: true)),
})
{
    Batched($"{rule} (batched)", make());
    PerAgent($"{rule} (agent by agent)", make());
}

var cpu = variants.ToDictionary(v => v.Name, _ => new List<double>());
var wall = variants.ToDictionary(v => v.Name, _ => new List<double>());
using (torch.no_grad())
{
    foreach (var v in variants) v.Run();   // warm-up
    for (int r = 0; r < reps; r++)
        foreach (var (name, run) in variants)
        {
            GC.Collect();
            var p = Process.GetCurrentProcess();
            var c0 = p.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            run();
            sw.Stop();
            p.Refresh();
            cpu[name].Add((p.TotalProcessorTime - c0).TotalSeconds);
            wall[name].Add(sw.Elapsed.TotalSeconds);
        }
}
double Median(List<double> x) { var s = x.Order().ToList(); return s[s.Count / 2]; }
double mh = Median(cpu["metropolis (agent by agent)"]);
Console.WriteLine($"| variant | CPU s per round (median of {reps}) | wall s | x metropolis (CPU) |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var (name, _) in variants)
    Console.WriteLine($"| {name} | {Median(cpu[name]):F3} | {Median(wall[name]):F3} | {Median(cpu[name]) / mh:F2} |");
