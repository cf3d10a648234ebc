using System.Text;
using System.Text.Json.Nodes;
using Parse.Reporting;
using Parse.Simulation;

namespace Parse.Tests;

/// <summary>TensorBoard event files of a run: framing CRCs, the scalars per agent type, loss and bytes, written live and at the end.</summary>
[Collection("cli")]
public class TensorBoardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-tb").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private sealed class Callback(Action<RoundProgress> f) : IProgress<RoundProgress>
    {
        public void Report(RoundProgress value) => f(value);
    }

    [Fact]
    public void The_reader_computes_the_standard_crc32c() =>
        Assert.Equal(0xE3069283u, TfEventReader.Crc32C(Encoding.ASCII.GetBytes("123456789")));

    [Fact]
    public void A_run_writes_event_files_whose_scalars_match_its_metrics_and_appear_while_it_runs()
    {
        string outDir = Path.Combine(_dir, "tb-1");
        var cfg = TestConfigs.Load("rounds=3", "eval.every=1", "eval.embeddings=false", "sim.batch_agents=false");
        var liveSteps = new List<long>();
        var progress = new Callback(p =>
        {
            // after the 2nd evaluation, the staging directory already holds the first two rounds
            if (p.Evaluated && p.Round == 2)
                liveSteps.AddRange(TfEventReader.Scalars(Path.Combine(outDir + ".partial", TensorBoardLog.DirectoryName))
                    .Where(s => s.Tag == "accuracy/all").Select(s => s.Step));
        });
        ExperimentRunner.Run(cfg, outDir, _dir, progress);
        Assert.Equal([1L, 2L], liveSteps);

        string tb = Path.Combine(outDir, TensorBoardLog.DirectoryName);
        var files = Directory.GetFiles(tb, "events.out.tfevents.*");
        Assert.Single(files);   // the live file is replaced by the final one
        var records = TfEventReader.Read(files[0]);   // throws on any bad CRC
        Assert.Equal("brain.Event:2", records[0].FileVersion);

        var scalars = TfEventReader.Scalars(tb);
        var rows = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        var rounds = rows.Select(r => r["round"]!.GetValue<int>()).Distinct().Order().ToList();
        Assert.Equal([1, 2, 3], rounds);
        foreach (int round in rounds)
        {
            var ofRound = rows.Where(r => r["round"]!.GetValue<int>() == round).ToList();
            float Value(string tag) => Assert.Single(scalars, s => s.Tag == tag && s.Step == round).Value;
            foreach (var g in ofRound.GroupBy(r => r["type"]!.GetValue<string>()))
                Assert.Equal(g.Average(r => r["accuracy"]!.GetValue<double>()), Value(TensorBoardLog.AccuracyTag(g.Key)), 1e-4);
            Assert.Equal(ofRound.Average(r => r["accuracy"]!.GetValue<double>()), Value("accuracy/all"), 1e-4);
            Assert.Equal(ofRound.Average(r => r["test_loss"]!.GetValue<double>()), Value("loss/test"), 1e-4);
            Assert.Equal(ofRound.Average(r => r["train_loss"]!.GetValue<double>()), Value("loss/train"), 1e-4);
            double bytes = ofRound.Sum(r => r["bytes_sent"]!.GetValue<long>());
            Assert.Equal(bytes, Value("bytes/sent_total"), bytes * 1e-6);
            double before = round == 1 ? 0 : rows.Where(r => r["round"]!.GetValue<int>() == round - 1).Sum(r => r["bytes_sent"]!.GetValue<long>());
            Assert.Equal(bytes - before, Value("bytes/per_round"), bytes * 1e-6);
            Assert.True(Value("bytes/per_round") > 0);
        }
        Assert.Contains(scalars, s => s.Tag == "accuracy/a+b");
        // wall times are Unix seconds
        Assert.All(scalars, s => Assert.InRange(s.WallTime, (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds - 3600, (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds + 3600));
    }

    [Fact]
    public void Attackers_are_left_out_of_the_accuracy_means_but_their_bytes_count()
    {
        string outDir = Path.Combine(_dir, "tb-att");
        var cfg = TestConfigs.Load("rounds=2", "eval.every=1", "eval.embeddings=false", "attack.kind=sign-flip", "attack.fraction=0.25");
        ExperimentRunner.Run(cfg, outDir, _dir);
        var attackers = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")))!["accuracy"]!["attackers"]!["ids"]!
            .AsArray().Select(x => x!.GetValue<int>()).ToHashSet();
        Assert.NotEmpty(attackers);
        var scalars = TfEventReader.Scalars(Path.Combine(outDir, TensorBoardLog.DirectoryName));
        var rows = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(r => r["round"]!.GetValue<int>() == 2).ToList();
        double honest = rows.Where(r => !attackers.Contains(r["agent"]!.GetValue<int>())).Average(r => r["accuracy"]!.GetValue<double>());
        Assert.Equal(honest, Assert.Single(scalars, s => s.Tag == "accuracy/all" && s.Step == 2).Value, 1e-4);
        double bytes = rows.Sum(r => r["bytes_sent"]!.GetValue<long>());
        Assert.Equal(bytes, Assert.Single(scalars, s => s.Tag == "bytes/sent_total" && s.Step == 2).Value, bytes * 1e-6);
    }
}
