// The sample's entry point: `dotnet run --project examples/webapp`. Everything else is in SampleApp.
using Giftwrap.Example.WebApp;

await SampleApp.Build(args).RunAsync().ConfigureAwait(false);
