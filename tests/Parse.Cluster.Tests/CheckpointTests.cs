using Parse.Cluster.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Cluster.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-ckpt").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static nn.Module<Tensor, Tensor> Model(int seed)
    {
        torch.manual_seed(seed);
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3));
    }

    private static bool SameWeights(nn.Module a, nn.Module b) =>
        a.parameters().Zip(b.parameters()).All(p => p.First.allclose(p.Second, rtol: 0, atol: 0));

    [Fact]
    public void Save_then_load_restores_the_weights_and_metadata_and_leaves_no_temp_file()
    {
        var store = new CheckpointStore(_dir);
        using var a = Model(1);
        using var b = Model(2);
        store.Save(agent: 4, round: 10, a, "{\"x\":1}");
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
        var c = store.TryLoadLatest(4);
        Assert.NotNull(c);
        Assert.Equal((4, 10, "{\"x\":1}"), (c!.Agent, c.Round, c.Metadata));
        Assert.False(SameWeights(a, b));
        CheckpointStore.Restore(c, b);
        Assert.True(SameWeights(a, b));
        Assert.Null(store.TryLoadLatest(5));
    }

    [Fact]
    public void Only_the_two_newest_checkpoints_are_kept()
    {
        var store = new CheckpointStore(_dir);
        using var a = Model(1);
        foreach (int r in new[] { 5, 10, 15 }) store.Save(0, r, a, "");
        Assert.Equal(new[] { 15, 10 }, store.Files(0).Select(f => f.Round));
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    [InlineData("empty")]
    public void A_corrupt_newest_checkpoint_is_never_loaded_and_the_previous_good_one_is_used(string damage)
    {
        var store = new CheckpointStore(_dir);
        using var a = Model(1);
        using var b = Model(2);
        store.Save(3, 5, a, "old");
        store.Save(3, 10, b, "new");
        string newest = store.Files(3)[0].Path;
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, damage switch
        {
            "flip" => bytes.Select((x, i) => i == bytes.Length / 2 ? (byte)(x ^ 0xFF) : x).ToArray(),
            "truncate" => bytes[..(bytes.Length / 2)],
            _ => [],
        });
        var c = store.TryLoadLatest(3);
        Assert.NotNull(c);
        Assert.Equal(5, c!.Round);
        Assert.Equal("old", c.Metadata);
        Assert.Single(store.Corrupt);
        Assert.Contains(Path.GetFileName(newest), store.Corrupt[0]);
    }

    [Fact]
    public void A_checkpoint_of_another_shape_is_refused_with_the_tensor_name()
    {
        var store = new CheckpointStore(_dir);
        using var a = Model(1);
        store.Save(1, 1, a, "");
        using var other = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3));
        var e = Assert.Throws<InvalidDataException>(() => CheckpointStore.Restore(store.TryLoadLatest(1)!, other));
        Assert.Contains("0.weight", e.Message);
    }

    [Fact]
    public void A_stale_temp_file_from_a_crash_mid_write_is_ignored()
    {
        var store = new CheckpointStore(_dir);
        using var a = Model(1);
        store.Save(2, 4, a, "good");
        File.WriteAllBytes(Path.Combine(_dir, "agent-2-r000008.ckpt.tmp-999"), new byte[100]);
        Assert.Equal(4, store.TryLoadLatest(2)!.Round);
    }
}
