using Parse.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Tests;

public class FlatAdamTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.01)]
    public void Matches_torch_Adam_step_for_step(double weightDecay)
    {
        torch.manual_seed(5);
        using var a = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3));
        torch.manual_seed(5);
        using var b = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3));
        using var flat = new FlatAdam(a.parameters(), lr: 0.01, weightDecay: weightDecay);
        using var reference = optim.Adam(b.parameters(), lr: 0.01, weight_decay: weightDecay);
        for (int step = 0; step < 20; step++)
        {
            using var scope = torch.NewDisposeScope();
            torch.manual_seed(100 + step);
            var x = torch.randn(16, 6);
            var y = torch.randint(0, 3, [16], dtype: ScalarType.Int64);
            flat.ZeroGrad();
            nn.functional.cross_entropy(a.forward(x), y).backward();
            flat.Step();
            reference.zero_grad();
            nn.functional.cross_entropy(b.forward(x), y).backward();
            reference.step();
        }
        foreach (var (pa, pb) in a.parameters().Zip(b.parameters()))
            Assert.True(pa.allclose(pb, rtol: 1e-4, atol: 1e-6), "fused Adam diverged from torch.optim.Adam");
        // and it actually moved the parameters
        torch.manual_seed(5);
        using var init = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3));
        Assert.False(a.parameters().First().allclose(init.parameters().First()));
    }
}
