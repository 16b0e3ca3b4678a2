// The public surface of Giftwrap.AspNetCore, snapshot-checked: a change to it must change PublicApi.txt
// too, on purpose. Set GIFTWRAP_UPDATE_API=1 to rewrite the snapshot.
using System.Reflection;

namespace Giftwrap.AspNetCore.Tests;

public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesSnapshot()
    {
        string snapshot = Path.Combine(AppContext.BaseDirectory, "PublicApi.txt");
        string actual = string.Join('\n', Describe(typeof(GiftwrapOptions).Assembly)) + "\n";
        if (Environment.GetEnvironmentVariable("GIFTWRAP_UPDATE_API") == "1")
        {
            File.WriteAllText(Path.Combine(SourceDirectory(), "PublicApi.txt"), actual);
        }
        Assert.Equal(File.ReadAllText(snapshot).ReplaceLineEndings("\n"), actual);
    }

    private static IEnumerable<string> Describe(Assembly assembly)
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (Type type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            yield return $"{Kind(type)} {type.FullName}{(type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) ? " : " + b.Name : "")}{string.Concat(type.GetInterfaces().Select(i => " : " + i.Name))}";
            foreach (string member in type.GetMembers(Declared).Select(Member).OfType<string>().Order(StringComparer.Ordinal))
            {
                yield return "  " + member;
            }
        }
    }

    private static string Kind(Type type) =>
        type.IsInterface ? "interface" : type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : "class";

    private static string? Member(MemberInfo member) => member switch
    {
        ConstructorInfo c => $"ctor({Parameters(c)})",
        MethodInfo m when !m.IsSpecialName && m.DeclaringType!.IsEnum is false && m.Name is not ("Equals" or "GetHashCode" or "ToString" or "Deconstruct" or "<Clone>$" or "PrintMembers") =>
            $"{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}({Parameters(m)})",
        PropertyInfo p when p.Name != "EqualityContract" => $"{Name(p.PropertyType)} {p.Name} {{ {(p.GetMethod is not null ? "get; " : "")}{(p.SetMethod is not null ? "set/init; " : "")}}}",
        FieldInfo f when !f.IsSpecialName => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}",
        _ => null,
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.Name;

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
