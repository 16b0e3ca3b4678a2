// The Kestrel app of bench/aspnetcore: plain HTTP on loopback, one endpoint answering "ok",
// with or without ListenOptions.UseGiftwrap() (--giftwrap=on|off). Logging is off in both
// variants, so the difference is the decision itself (bans, tables, options), not the log sink.
using System.Net;

var builder = WebApplication.CreateSlimBuilder(args);
var config = builder.Configuration;
var guarded = string.Equals(config["giftwrap"], "on", StringComparison.OrdinalIgnoreCase);
builder.Logging.ClearProviders();
if (guarded)
{
    builder.Services.AddGiftwrap(o =>
    {
        o.AllowPath = config["allow"] ?? "hosts.allow";
        o.DenyPath = config["deny"] ?? "hosts.deny";
    });
}
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, config.GetValue("port", 8080), listen =>
{
    if (guarded)
        listen.UseGiftwrap("bench");
}));
var app = builder.Build();
app.MapGet("/", () => "ok\n");
await app.StartAsync().ConfigureAwait(false);
// run.sh checks this line: the guarded variant really has the tables loaded.
Console.WriteLine(guarded
    ? $"giftwrap on: {app.Services.GetRequiredService<Giftwrap.Tables.AccessTables>().EntryCount} rules (allow, deny)"
    : "giftwrap off");
await app.WaitForShutdownAsync().ConfigureAwait(false);
