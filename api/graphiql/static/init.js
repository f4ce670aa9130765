// Mounts GraphiQL on #graphiql, sending queries to the page's own /graphql. A file of its own
// (not an inline script) so that the page's Content-Security-Policy allows only this origin's
// scripts.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var fetcher = GraphiQL.createFetcher({ url: root.getAttribute("data-endpoint") });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
      defaultQuery:
        "# Add your token under Headers below:\n" +
        '# {"Authorization": "Bearer <access token>"}\n' +
        "{ viewer { kind } }\n",
    })
  );
})();
