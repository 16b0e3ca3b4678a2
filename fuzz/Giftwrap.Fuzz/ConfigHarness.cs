// The configuration reader: giftwrap.conf (the input up to "\n%%\n") read from a file, with the
// lines after it as --section:key=value switches laid over it, then taken as the gate, the ban store
// and the fleet take it. Every problem must land in the error list, with its place.
using Giftwrap.Bans;
using Giftwrap.Bans.Redis;
using Giftwrap.Configuration;
using Giftwrap.Gate.Config;

namespace Giftwrap.Fuzz;

public static class ConfigHarness
{
    public static void Run(byte[] input)
    {
        var (text, switches) = Harnesses.Split(input);
        var path = Path.Combine(Harnesses.Scratch, "giftwrap.conf");
        File.WriteAllBytes(path, text);
        var usage = new List<string>();
        var tokens = System.Text.Encoding.UTF8.GetString(switches).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var overrides = ConfigOverride.FromSwitches(tokens, usage);
        var file = ConfigFile.Read(path, overrides, missingIsEmpty: false);
        _ = GateConfigLoader.FromFile(file, inetd: null);
        _ = BanOptionsReader.FromFile(file);
        _ = FleetOptionsReader.FromFile(file);
        foreach (var error in file.Errors)
        {
            if (error.Length == 0)
                throw new InvalidOperationException("an empty configuration error");
        }
    }
}
