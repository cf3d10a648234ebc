using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Parse.Tests;

/// <summary>
/// Guards against the TorchSharp scalar race (src/Parse/Util/ScalarOps.cs): compiles the project's sources with Roslyn
/// and fails on every implicit <c>double</c>/<c>int</c> -&gt; <c>Scalar</c> conversion and every TorchSharp call that
/// creates a hidden scalar (one-argument <c>add</c>/<c>add_</c>, the <c>+</c> operator on tensors, <c>square()</c>,
/// scalar <c>-</c>/<c>/</c> operators). Such a scalar may be finalized by a GC on another thread while LibTorch reads
/// it ("Unknown scalar type", "Expected false to be true ... toFloat").
/// </summary>
public class ImplicitScalarTests
{
    private static readonly string[] Roots = ["src/Parse", "src/Parse.Cluster", "src/Parse.Cli"];

    // CS8795: [GeneratedRegex] partial methods, whose other part a source generator writes
    // what <ImplicitUsings>enable</ImplicitUsings> generates for an SDK project
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    [Fact]
    public void No_implicit_TorchSharp_scalar_in_the_sources()
    {
        string repo = RepoRoot();
        var trees = Roots.SelectMany(r => Directory.EnumerateFiles(Path.Combine(repo, r), "*.cs", SearchOption.AllDirectories))
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(p => CSharpSyntaxTree.ParseText(File.ReadAllText(p), new CSharpParseOptions(LanguageVersion.Preview), path: p))
            .Append(CSharpSyntaxTree.ParseText(ImplicitUsings, new CSharpParseOptions(LanguageVersion.Preview), path: "GlobalUsings.g.cs"))
            .ToList();
        var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.Location.Length > 0).Select(a => a.Location))
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .Where(p => !Path.GetFileName(p).StartsWith("Parse", StringComparison.Ordinal))
            .DistinctBy(Path.GetFileName)
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("scan", trees, refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var scalar = compilation.GetTypeByMetadataName("TorchSharp.Scalar");
        var tensor = compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor");
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").Take(10).ToList();
        Assert.True(errors.Count == 0, "the sources do not compile in the scan (so calls cannot be checked):\n" + string.Join("\n", errors));
        Assert.NotNull(scalar);
        Assert.NotNull(tensor);

        var found = new List<string>();
        foreach (var tree in trees)
        {
            if (tree.FilePath.EndsWith("ScalarOps.cs", StringComparison.Ordinal)) continue;   // the helpers themselves
            if (!tree.GetText().ToString().Contains("TorchSharp", StringComparison.Ordinal)) continue;
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                string? why = null;
                if (node is ExpressionSyntax e)
                {
                    var conv = model.GetConversion(e);
                    if (conv.IsUserDefined && SymbolEqualityComparer.Default.Equals(conv.MethodSymbol?.ContainingType, scalar))
                        why = $"implicit conversion of '{e}' to Scalar";
                }
                if (why is null && node is BinaryExpressionSyntax b && model.GetSymbolInfo(b).Symbol is IMethodSymbol op
                    && SymbolEqualityComparer.Default.Equals(op.ContainingType, tensor)
                    && (op.Name == "op_Addition" || op.Parameters.Any(p => !SymbolEqualityComparer.Default.Equals(p.Type, tensor))))
                    why = $"tensor operator '{b.OperatorToken.Text}' in '{b}' (creates a hidden scalar)";
                if (why is null && node is InvocationExpressionSyntax inv && model.GetSymbolInfo(inv).Symbol is IMethodSymbol m
                    && SymbolEqualityComparer.Default.Equals(m.ContainingType, tensor)
                    && ((m.Name is "add" or "add_" && m.Parameters.Length == 1) || m.Name is "square" or "square_"))
                    why = $"'{inv}' (TorchSharp creates an implicit scalar; use Util.ScalarOps)";
                if (why is not null)
                    found.Add($"{Path.GetRelativePath(repo, tree.FilePath)}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}: {why}");
            }
        }
        Assert.True(found.Count == 0, "implicit TorchSharp scalars (see src/Parse/Util/ScalarOps.cs):\n" + string.Join("\n", found.Distinct()));
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Parse.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Parse.slnx) not found above " + AppContext.BaseDirectory);
    }
}
