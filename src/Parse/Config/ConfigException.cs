namespace Parse.Config;

/// <summary>A configuration or input problem, with a message that names the field or file at fault.</summary>
public sealed class ConfigException(string message) : Exception(message);
