// Starts GraphiQL on the gateway's page (GET /graphql in a browser): the queries go to the page's
// own address, subscriptions to the same address over a WebSocket (graphql-transport-ws).
// React, ReactDOM and GraphiQL are loaded before this file, from the gateway too.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# GraphiQL шлюза Сетки: реестр, события",
    "# и аналитика по одному адресу.",
    "#",
    "# Ctrl-Enter выполняет запрос,",
    "# Ctrl-Space подсказывает поля, схема —",
    "# под значком книги слева вверху.",
    "# Токен (setka token issue) — во вкладке",
    "# Headers внизу:",
    '#   {"Authorization": "Bearer <токен>"}',
    "",
    "{",
    "  __typename",
    "}",
    "",
  ].join("\n");

  var endpoint = new URL(window.location.href);
  endpoint.search = "";
  endpoint.hash = "";
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  var fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
