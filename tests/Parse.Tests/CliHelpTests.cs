namespace Parse.Tests;

/// <summary>The command names itself <c>parse</c>, whatever process hosts it (tool shim, dotnet Parse.Cli.dll, a test host).</summary>
[Collection("cli")]
public class CliHelpTests
{
    [Fact]
    public void Help_and_usage_name_the_command_parse()
    {
        var before = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        int code;
        try { code = Parse.Cli.Program.Main(["--help"]); }
        finally { Console.SetOut(before); }
        string help = sw.ToString().Replace("\r\n", "\n");
        Assert.Equal(0, code);
        Assert.Contains("Usage:\n  parse [command] [options]", help);
        Assert.DoesNotContain("Parse.Cli", help);
        Assert.DoesNotContain("testhost", help);
        foreach (var sub in new[] { "run", "bench", "launch", "node", "validate" }) Assert.Contains("  " + sub, help);
        Assert.Contains("--version", help);
    }
}
