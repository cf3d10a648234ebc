using System.Collections;
using System.Reflection;
using System.Text.Json;

namespace Parse.Config;

/// <summary>
/// Finds nulls the serializer lets through inside collections: an element of a list or a value of a mapping that is
/// not declared nullable (e.g. <c>encoders: { default: }</c> or a stray key with no value). Fields themselves are
/// checked by the serializer (<c>RespectNullableAnnotations</c>).
/// </summary>
public static class ConfigNulls
{
    /// <summary>The dotted path of the first such null in <paramref name="cfg"/>, or null if there is none.</summary>
    public static string? Find(object cfg) => Walk(cfg, "", new NullabilityInfoContext(), 0);

    private static string? Walk(object obj, string path, NullabilityInfoContext ctx, int depth)
    {
        if (depth > 16) return null;
        foreach (var p in obj.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || !p.CanRead) continue;
            var v = p.GetValue(obj);
            if (v is null || v is string || p.PropertyType.IsValueType) continue;
            string name = JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name);
            string here = path.Length == 0 ? name : path + "." + name;
            var info = ctx.Create(p);
            bool elementNullable = info.GenericTypeArguments.Length > 0 && info.GenericTypeArguments[^1].ReadState == NullabilityState.Nullable
                                   || info.ElementType?.ReadState == NullabilityState.Nullable;
            switch (v)
            {
                case IDictionary d:
                    foreach (DictionaryEntry e in d)
                    {
                        if (e.Value is null) { if (!elementNullable) return $"{here}.{e.Key}"; continue; }
                        if (IsRecord(e.Value) && Walk(e.Value, $"{here}.{e.Key}", ctx, depth + 1) is { } inner) return inner;
                    }
                    break;
                case IList l:
                    for (int i = 0; i < l.Count; i++)
                    {
                        if (l[i] is null) { if (!elementNullable) return $"{here}[{i}]"; continue; }
                        if (IsRecord(l[i]!) && Walk(l[i]!, $"{here}[{i}]", ctx, depth + 1) is { } inner) return inner;
                    }
                    break;
                default:
                    if (IsRecord(v) && Walk(v, here, ctx, depth + 1) is { } deeper) return deeper;
                    break;
            }
        }
        return null;
    }

    private static bool IsRecord(object o) => o.GetType().Namespace == typeof(ConfigNulls).Namespace && o.GetType().IsClass;
}
