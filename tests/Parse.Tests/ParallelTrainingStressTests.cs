using Parse.Federation.Mixing;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>
/// The TorchSharp scalar race (issue 10, src/Parse/Util/ScalarOps.cs): agents training on parallel simulator workers
/// while another thread forces garbage collections (and so runs finalizers of any unreferenced native scalar
/// mid-call). Before the fix this crashed within a few rounds with "Unknown scalar type" / "toFloat" in FlatAdam.Step
/// or gave NaN losses; now every loss and accuracy stays finite. A unit that does fail surfaces, naming its agent.
/// </summary>
public class ParallelTrainingStressTests
{
    [Fact]
    public void Agents_training_on_parallel_workers_under_forced_GCs_stay_finite()
    {
        // one learner (and one FlatAdam) per agent, two workers; weight decay exercises Adam's decay path too
        var cfg = TestConfigs.Load("sim.parallelism=2", "sim.batch_agents=false", "rounds=30", "eval.every=10",
            "train.local_steps=3", "train.weight_decay=0.0001");
        using var stop = new CancellationTokenSource();
        long collections = 0;
        var hammer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref collections);
                Thread.Sleep(1);
            }
        }) { IsBackground = true };
        SimulationResult result;
        using (var sim = new Simulator(cfg, "."))
        {
            hammer.Start();
            try { result = sim.Run(); }
            finally { stop.Cancel(); hammer.Join(); }
        }
        Assert.True(Interlocked.Read(ref collections) > 10, "the GC thread did not run during training");
        Assert.Equal(12 * 3, result.Metrics.Count);   // 12 agents, evaluated at rounds 10, 20, 30
        Assert.All(result.Metrics, m =>
        {
            Assert.True(double.IsFinite(m.TrainLoss), $"agent {m.Agent} round {m.Round}: train loss {m.TrainLoss}");
            Assert.True(double.IsFinite(m.TestLoss), $"agent {m.Agent} round {m.Round}: test loss {m.TestLoss}");
            Assert.InRange(m.Accuracy, 0, 1);
        });
        // and they learned something (a generous margin: 16 classes, chance is 0.0625; 0.32 measured)
        Assert.True(result.FinalAccuracy.Average() > 0.15, $"mean final accuracy {result.FinalAccuracy.Average():F3}");
    }

    [Fact]
    public void A_failing_unit_on_a_parallel_worker_stops_the_run_and_names_its_agent()
    {
        string rule = "test-fails-on-fifth-mix-" + Guid.NewGuid().ToString("N")[..8];
        int calls = 0;
        Parse.Components.Mixers.Register(rule, _ => new FailingMixer(() => Interlocked.Increment(ref calls) == 5));
        var cfg = TestConfigs.Load("sim.parallelism=2", "sim.batch_agents=false", "rounds=3", $"mixing.rule={rule}");
        using var sim = new Simulator(cfg, ".");
        var e = Assert.Throws<AgentFailureException>(() => sim.Run());
        Assert.Equal("mixing", e.Phase);
        Assert.StartsWith("agent ", e.Who);
        Assert.Contains("injected failure", e.Message);
        Assert.Contains(e.Who + " failed while mixing", e.Message);
    }

    private sealed class FailingMixer(Func<bool> fail) : IMixer
    {
        private readonly MetropolisMixer _inner = new();
        public string Name => "failing";

        public void Mix(IReadOnlyList<TorchSharp.torch.Tensor> own, int ownDegree, IReadOnlyList<Contribution> received)
        {
            if (fail()) throw new InvalidOperationException("injected failure");
            _inner.Mix(own, ownDegree, received);
        }
    }
}
