using System.Text.Json;
using System.Text.Json.Serialization;

namespace Parse.Config;

/// <summary>
/// One entry of <c>agents.types</c>: a modality set, written as a string (<c>"audio+image"</c>), or a mapping that
/// also names the type and chooses its own encoders (heterogeneous encoders):
/// <code>
/// types:
///   - audio
///   - { modalities: audio, name: audio-gru, encoders: { audio: { kind: gru, hidden: 64, layers: 1 } } }
///   - audio+image
/// </code>
/// Encoders of a type override <c>model.encoders</c> modality by modality. The type's name (default: the canonical
/// modality set, e.g. <c>audio+image</c>) is the type reported per agent; two types with the same modality set need
/// different names. Sharing keys never use the name: slices, heads and fusion keep aligning with every agent of the
/// same modality set, and trunks align only with agents whose trunk has the same architecture signature.
/// </summary>
[JsonConverter(typeof(AgentTypeSpecConverter))]
public sealed record AgentTypeSpec
{
    /// <summary>The modality set, e.g. <c>audio+image</c>.</summary>
    public string Modalities { get; init; } = "";
    /// <summary>The type's name in reports (default: the canonical modality set).</summary>
    public string? Name { get; init; }
    /// <summary>Encoders of this type by modality name; the others come from <c>model.encoders</c>.</summary>
    public Dictionary<string, EncoderConfig>? Encoders { get; init; }

    /// <summary>A type with the default encoders: its modality set.</summary>
    public static implicit operator AgentTypeSpec(string modalities) => new() { Modalities = modalities };

    /// <summary>True when the entry is a plain modality set (written back as a string).</summary>
    [JsonIgnore]
    public bool IsPlain => Name is null && Encoders is null;

    /// <inheritdoc />
    public override string ToString() => Name ?? Modalities;
}

/// <summary>Reads an <see cref="AgentTypeSpec"/> from a string or a mapping; writes plain entries back as strings.</summary>
public sealed class AgentTypeSpecConverter : JsonConverter<AgentTypeSpec>
{
    /// <summary>The mapping form, bound with the same (strict) options.</summary>
    private sealed record Mapping
    {
        public string Modalities { get; init; } = "";
        public string? Name { get; init; }
        public Dictionary<string, EncoderConfig>? Encoders { get; init; }
    }

    /// <inheritdoc />
    public override AgentTypeSpec? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return new AgentTypeSpec { Modalities = reader.GetString() ?? "" };
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("an agent type is a modality set (\"a+b\") or a mapping {modalities, name, encoders}");
        var node = System.Text.Json.Nodes.JsonNode.Parse(ref reader)!.AsObject();
        foreach (var (key, _) in node)
            if (key is not ("modalities" or "name" or "encoders"))
                throw new ConfigException($"agents.types: unknown key '{key}' in a type entry (expected modalities, name, encoders)");
        var m = node.Deserialize<Mapping>(options) ?? new Mapping();
        return new AgentTypeSpec { Modalities = m.Modalities, Name = m.Name, Encoders = m.Encoders };
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, AgentTypeSpec value, JsonSerializerOptions options)
    {
        if (value.IsPlain) writer.WriteStringValue(value.Modalities);
        else JsonSerializer.Serialize(writer, new Mapping { Modalities = value.Modalities, Name = value.Name, Encoders = value.Encoders }, options);
    }
}
