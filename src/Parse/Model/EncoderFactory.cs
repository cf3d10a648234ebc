using Parse.Config;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Parse.Model;

/// <summary>What an encoder factory (<see cref="Components.Encoders"/>) is asked to build.</summary>
/// <param name="Config">The encoder settings of the modality (<c>model.encoders.NAME</c> or <c>model.encoders.default</c>).</param>
/// <param name="InputShape">Per-sample input shape of the modality, e.g. [16] or [1,28,28].</param>
/// <param name="Modality">The modality the trunk encodes (for messages; the sharing key holds it already).</param>
/// <param name="Agents">Number of agents A the trunk is built for: every parameter has a leading dimension A.</param>
public sealed record EncoderRequest(EncoderConfig Config, long[] InputShape, string Modality, int Agents = 1)
{
    /// <summary>The input shape as text, dimensions joined by 'x' (e.g. <c>1x28x28</c>).</summary>
    public string ShapeText => string.Join('x', InputShape);
}

/// <summary>
/// An encoder kind (<c>model.encoders.*.kind</c>): builds the trunk that maps one modality's input to a hidden vector,
/// for A agents at once, and names its architecture.
/// </summary>
/// <remarks>
/// <para>Trunks are batched-first: built for <see cref="EncoderRequest.Agents"/> = A agents, every parameter has a
/// leading agent dimension A, the input is [A, N, ...shape] and the output [A, N, <see cref="EncoderConfig.Hidden"/>],
/// agent k computed with slice k of every parameter only. Read parameters through <see cref="Stacked.Use"/> (the
/// building blocks <see cref="StackedLinear"/>, <see cref="GemmConv2d"/> and <see cref="GemmConv1d"/> do), so that
/// forward passes on a subset of the agents work. Draw the initial values of one agent and repeat them
/// (<see cref="Stacked.Replicate"/>): a slice must not depend on A. The model copies agent 0's slice to every agent
/// after building the trunk, and rejects a parameter without the leading dimension A.</para>
/// <para>
/// The signature is part of every sharing key of the encoder (<c>enc/MODALITY/SIGNATURE/trunk</c>), so agents only
/// exchange trunks with the same signature, and all agents with the same key start from the same initial values.
/// It must change whenever the parameter shapes change: start it with the kind and include every setting and the
/// input shape that the architecture depends on. Without a signature function,
/// <see cref="DefaultSignature"/> is used.</para>
/// </remarks>
public sealed class EncoderFactory
{
    private readonly Func<EncoderRequest, Module<Tensor, Tensor>> _create;
    private readonly Func<EncoderRequest, string> _signature;

    /// <summary>Creates an encoder kind from a trunk constructor and, optionally, a signature function.</summary>
    /// <param name="create">Builds the trunk for request.Agents agents: [A, N, ...shape] to [A, N, request.Config.Hidden].</param>
    /// <param name="signature">Architecture signature; default <see cref="DefaultSignature"/>.</param>
    public EncoderFactory(Func<EncoderRequest, Module<Tensor, Tensor>> create, Func<EncoderRequest, string>? signature = null)
    {
        ArgumentNullException.ThrowIfNull(create);
        _create = create;
        _signature = signature ?? DefaultSignature;
    }

    /// <summary>Builds the trunk for one modality.</summary>
    public Module<Tensor, Tensor> Create(EncoderRequest request) => _create(request);

    /// <summary>
    /// The architecture signature of the trunk <see cref="Create"/> builds for <paramref name="request"/>.
    /// Throws a <see cref="ConfigException"/> if it is empty or contains '/', '|' or white space (it is one segment of a key).
    /// </summary>
    public string Signature(EncoderRequest request)
    {
        string s = _signature(request);
        if (string.IsNullOrEmpty(s) || s.Any(ch => ch is '/' or '|' || char.IsWhiteSpace(ch)))
            throw new ConfigException(
                $"model.encoders.{request.Modality}.kind: encoder '{request.Config.Kind}' gave the signature '{s}'; it must be non-empty without '/', '|' or white space");
        return s;
    }

    /// <summary><c>KIND-SHAPE-cCHANNELS-hHIDDEN-lLAYERS</c>, e.g. <c>cnn2d-1x28x28-c16-h64-l2</c>.</summary>
    public static string DefaultSignature(EncoderRequest request)
    {
        var c = request.Config;
        return $"{c.Kind}-{request.ShapeText}-c{c.Channels}-h{c.Hidden}-l{c.Layers}";
    }
}
