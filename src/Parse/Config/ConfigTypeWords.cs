using System.Collections;
using System.Reflection;
using System.Text.Json;

namespace Parse.Config;

/// <summary>
/// What a config field accepts, in words ("an integer in -2147483648..2147483647", "true or false", "a list of
/// numbers"), found by walking the config records along a JSON path such as <c>$.model.split[1]</c>. Used for
/// type errors instead of the serializer's "could not be converted to System.Int32".
/// </summary>
public static class ConfigTypeWords
{
    /// <summary>The .NET type at <paramref name="jsonPath"/> below <paramref name="root"/>, or null if the path leaves the records.</summary>
    public static Type? TypeAt(Type root, string jsonPath)
    {
        Type? t = root;
        foreach (string seg in Segments(jsonPath))
        {
            if (t is null) return null;
            t = Nullable.GetUnderlyingType(t) ?? t;
            if (seg == "[]") { t = ElementType(t); continue; }
            if (DictionaryValue(t) is { } dv) { t = dv; continue; }
            var prop = t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .FirstOrDefault(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name) == seg);
            t = prop?.PropertyType;
        }
        return t;
    }

    /// <summary>The accepted values of <paramref name="t"/> in words.</summary>
    public static string Describe(Type t)
    {
        if (Nullable.GetUnderlyingType(t) is { } inner) return Describe(inner) + " (or null)";
        if (t == typeof(int)) return $"an integer in {int.MinValue}..{int.MaxValue}";
        if (t == typeof(long)) return $"an integer in {long.MinValue}..{long.MaxValue}";
        if (t == typeof(double) || t == typeof(float)) return "a number";
        if (t == typeof(bool)) return "true or false";
        if (t == typeof(string)) return "a text value";
        if (t.IsEnum) return "one of " + string.Join(", ", Enum.GetNames(t).Select(n => JsonNamingPolicy.SnakeCaseLower.ConvertName(n)));
        if (DictionaryValue(t) is { } dv) return $"a mapping of names to {Plural(dv)}";
        if (ElementType(t) is { } et) return $"a list of {Plural(et)}";
        if (t.IsClass) return "a mapping of keys (e.g. { key: value })";
        return t.Name;
    }

    private static string Plural(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(int) || t == typeof(long)) return "integers";
        if (t == typeof(double) || t == typeof(float)) return "numbers";
        if (t == typeof(bool)) return "true/false values";
        if (t == typeof(string)) return "text values";
        if (DictionaryValue(t) is not null || (t.IsClass && ElementType(t) is null)) return "mappings";
        if (ElementType(t) is { } et) return "lists of " + Plural(et);
        return t.Name;
    }

    private static Type? DictionaryValue(Type t) =>
        t.IsGenericType && t.GetGenericArguments().Length == 2 && typeof(IDictionary).IsAssignableFrom(t) ? t.GetGenericArguments()[1]
        : t.GetInterfaces().Append(t).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))?.GetGenericArguments()[1];

    private static Type? ElementType(Type t)
    {
        if (t == typeof(string)) return null;
        if (t.IsArray) return t.GetElementType();
        return t.GetInterfaces().Append(t).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
    }

    /// <summary>"$.model.split[1]" -> model, split, []; "$['a.b']" -> a.b.</summary>
    internal static IEnumerable<string> Segments(string jsonPath)
    {
        string p = jsonPath.StartsWith('$') ? jsonPath[1..] : jsonPath;
        int i = 0;
        while (i < p.Length)
        {
            if (p[i] == '.') { i++; continue; }
            if (p[i] == '[')
            {
                int close = p.IndexOf(']', i);
                if (close < 0) yield break;
                string inside = p[(i + 1)..close];
                yield return inside.StartsWith('\'') ? inside.Trim('\'') : "[]";
                i = close + 1;
                continue;
            }
            int end = p.IndexOfAny(['.', '['], i);
            if (end < 0) end = p.Length;
            yield return p[i..end];
            i = end;
        }
    }
}
