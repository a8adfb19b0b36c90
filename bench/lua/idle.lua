-- each connection sends one request a second
function delay() return 1000 end
