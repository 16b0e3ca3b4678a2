// The public surface of an assembly as text, one line per type and member, compared with the
// PublicApi.txt beside the calling test; linked into each test project that guards an API.
// GIFTWRAP_UPDATE_API=1 rewrites the snapshot instead (review the diff, then commit it), e.g.
// GIFTWRAP_UPDATE_API=1 dotnet test tests/Giftwrap.Gate.Tests -c Release --filter PublicApi
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Giftwrap.Testing;

internal static class PublicApiSnapshot
{
    /// <summary>Asserts that <paramref name="assembly"/>'s public API equals the PublicApi.txt copied to the test output.</summary>
    public static void Verify(Assembly assembly, [CallerFilePath] string callerPath = "")
    {
        var snapshot = Path.Combine(AppContext.BaseDirectory, "PublicApi.txt");
        var actual = string.Join('\n', Describe(assembly)) + "\n";
        if (Environment.GetEnvironmentVariable("GIFTWRAP_UPDATE_API") == "1")
        {
            // The source copy beside the test, which the next build copies to the output.
            snapshot = Path.Combine(Path.GetDirectoryName(callerPath)!, "PublicApi.txt");
            File.WriteAllText(snapshot, actual);
        }
        Assert.Equal(File.ReadAllText(snapshot).ReplaceLineEndings("\n"), actual);
    }

    public static IEnumerable<string> Describe(Assembly assembly)
    {
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            yield return $"{Kind(type)} {type.FullName}{(type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) ? " : " + b.Name : "")}{string.Concat(type.GetInterfaces().Select(i => " : " + i.Name))}";
            foreach (var member in type.GetMembers(Declared).Select(Member).OfType<string>().Order(StringComparer.Ordinal))
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
        PropertyInfo p when p.Name != "EqualityContract" => $"{Name(p.PropertyType)} {p.Name} {{ {(p.GetMethod is { IsPublic: true } ? "get; " : "")}{(p.SetMethod is { IsPublic: true } ? "set/init; " : "")}}}",
        FieldInfo f when !f.IsSpecialName => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}",
        _ => null,
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.Name;
}
