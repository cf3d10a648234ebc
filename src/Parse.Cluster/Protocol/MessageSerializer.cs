using Akka.Actor;
using Akka.Serialization;

namespace Parse.Cluster.Protocol;

/// <summary>
/// Binary Akka serializer for the <see cref="IWireMessage"/> types (no reflection-based JSON on the wire); the encoding
/// is <see cref="WireCodec"/>'s. A malformed frame fails with <see cref="System.Runtime.Serialization.SerializationException"/>,
/// which Akka drops and logs.
/// </summary>
public sealed class MessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Serializer id registered in the HOCON bindings.</summary>
    public const int Id = 4711;

    public override int Identifier => Id;

    public override string Manifest(object o) => WireCodec.Manifest(o);

    public override byte[] ToBinary(object o) => WireCodec.Encode(o);

    public override object FromBinary(byte[] bytes, string manifest) => WireCodec.Decode(bytes, manifest);
}
