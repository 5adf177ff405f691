<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>DataFolder</name>
    <message>
        <location filename="../../app/data_folder.py" line="59"/>
        <source>{error}

It has been set aside, unchanged, as
{moved}
(with its states beside it), so nothing in it is lost.

Start with an empty conversation list here, or choose another folder?</source>
        <translation>{error}

它已原样移到一旁，保存为
{moved}
（其状态文件也在旁边），其中的内容都不会丢失。

要在这里以空的对话列表重新开始，还是选择其他文件夹？</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="64"/>
        <source>{error}

Choose another folder for your conversations, or quit.</source>
        <translation>{error}

请为对话另选一个文件夹，或者退出。</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="67"/>
        <source>The data folder &apos;{folder}&apos; cannot be written ({error}).

Choose another folder for your conversations, or quit.</source>
        <translation>无法写入数据文件夹“{folder}”（{error}）。

请为对话另选一个文件夹，或者退出。</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="85"/>
        <source>RWKV Desktop: conversations</source>
        <translation>RWKV Desktop：对话</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="86"/>
        <source>Start fresh</source>
        <translation>重新开始</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="87"/>
        <source>Choose another folder…</source>
        <translation>选择其他文件夹…</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="88"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../app/data_folder.py" line="97"/>
        <source>A folder for your conversations</source>
        <translation>选择存放对话的文件夹</translation>
    </message>
</context>
<context>
    <name>LocalServer</name>
    <message>
        <location filename="../../app/local_server.py" line="111"/>
        <source>The server could not start: {error}</source>
        <translation>服务器无法启动：{error}</translation>
    </message>
    <message>
        <location filename="../../app/local_server.py" line="113"/>
        <source>Could not start the local server</source>
        <translation>无法启动本地服务器</translation>
    </message>
    <message>
        <location filename="../../app/local_server.py" line="116"/>
        <source>Serving at {url}</source>
        <translation>正在 {url} 提供服务</translation>
    </message>
</context>
<context>
    <name>RemoteDialog</name>
    <message>
        <location filename="../../app/remote_dialog.py" line="33"/>
        <source>&lt;b&gt;RWKV Desktop&apos;s server.&lt;/b&gt; Every message resends the conversation, and the server&apos;s state cache reads only the new turn, so long chats stay quick. Save/load state and state tuning need a model on this computer.</source>
        <translation>&lt;b&gt;RWKV Desktop 的服务器。&lt;/b&gt;每条消息都会重新发送整段对话，而服务器的状态缓存只需读取新的一轮，因此长对话依然很快。保存/加载状态和状态微调需要在本机加载模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="37"/>
        <source>&lt;b&gt;An OpenAI-compatible server.&lt;/b&gt; Every message resends the whole conversation, which the server reads again. Continue, think modes, save/load state and state tuning are off.</source>
        <translation>&lt;b&gt;OpenAI 兼容服务器。&lt;/b&gt;每条消息都会重新发送整段对话，由服务器重新读取。续写、思考模式、保存/加载状态和状态微调均不可用。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="47"/>
        <source>Remote server (OpenAI-compatible)</source>
        <translation>远程服务器（OpenAI 兼容）</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="50"/>
        <source>The API&apos;s base address: …/v1 for most servers (RWKV Desktop, llama.cpp, Ollama), …/api/oai/v1 for Ai00</source>
        <translation>API 的基础地址：大多数服务器（RWKV Desktop、llama.cpp、Ollama）为 …/v1，Ai00 为 …/api/oai/v1</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="52"/>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="54"/>
        <source>Sent as &apos;Authorization: Bearer KEY&apos; to this address&apos;s host only</source>
        <translation>以“Authorization: Bearer KEY”的形式发送，且只发给该地址的主机</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="55"/>
        <source>List models</source>
        <translation>列出模型</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="67"/>
        <source>Connect</source>
        <translation>连接</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="71"/>
        <source>URL:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="72"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="75"/>
        <source>Models:</source>
        <translation>模型：</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="104"/>
        <source>Choose a model.</source>
        <translation>请选择一个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="114"/>
        <source>Could not connect; see the message.</source>
        <translation>无法连接，请查看提示信息。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="129"/>
        <source>Enter the server&apos;s address and press &lt;b&gt;List models&lt;/b&gt;.</source>
        <translation>输入服务器地址，然后点击&lt;b&gt;列出模型&lt;/b&gt;。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="132"/>
        <source>{url}: 1 model.</source>
        <translation>{url}：1 个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="132"/>
        <source>{url}: {n} models.</source>
        <translation>{url}：{n} 个模型。</translation>
    </message>
    <message>
        <location filename="../../app/remote_dialog.py" line="133"/>
        <source>{count} {kind}</source>
        <translation>{count}{kind}</translation>
    </message>
</context>
<context>
    <name>ServerPage</name>
    <message>
        <location filename="../../app/server_page.py" line="40"/>
        <source>Serve the loaded model to other apps (OpenAI-compatible API)</source>
        <translation>向其他应用提供已加载的模型（OpenAI 兼容 API）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="44"/>
        <source>The port other apps connect to (8000 unless another program uses it)</source>
        <translation>其他应用连接的端口（默认 8000，除非已被其他程序占用）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="46"/>
        <source>optional on this computer; needed for other computers</source>
        <translation>仅本机使用时可不填；供其他电脑访问时必填</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="48"/>
        <source>Apps must send it as &apos;Authorization: Bearer KEY&apos; (the openai client&apos;s api_key)</source>
        <translation>应用须以“Authorization: Bearer KEY”的形式发送（即 openai 客户端的 api_key）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="50"/>
        <source>Allow other computers (listens on every network address; needs the API key)</source>
        <translation>允许其他电脑访问（监听所有网络地址；需要 API 密钥）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="52"/>
        <source>(the server is off)</source>
        <translation>（服务器未开启）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="53"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="54"/>
        <source>Copy the URL: use it as base_url in OpenAI clients</source>
        <translation>复制地址：在 OpenAI 客户端中用作 base_url</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="61"/>
        <source>Local server</source>
        <translation>本地服务器</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="64"/>
        <source>Port:</source>
        <translation>端口：</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="65"/>
        <source>API key:</source>
        <translation>API 密钥：</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="67"/>
        <source>URL:</source>
        <translation>地址：</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="70"/>
        <source>Requests</source>
        <translation>请求</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="72"/>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="72"/>
        <source>Endpoint</source>
        <translation>接口</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="72"/>
        <source>Prompt tokens (cached)</source>
        <translation>提示词 token（已缓存）</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="73"/>
        <source>Reply tokens</source>
        <translation>回复 token</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="73"/>
        <source>Tokens/s</source>
        <translation>token/秒</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="73"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="76"/>
        <source>Clear</source>
        <translation>清空</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="78"/>
        <source>Counts only: prompts and replies are never logged.</source>
        <translation>只记录数量：从不记录提示词和回复的内容。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="110"/>
        <source>Stop the server to change this</source>
        <translation>停止服务器后才能修改</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="120"/>
        <source>Off. When on, apps written for OpenAI (the openai library, editors, chat front ends) can use the model loaded here, while you keep chatting.</source>
        <translation>已关闭。开启后，为 OpenAI 编写的应用（openai 库、编辑器、聊天前端）可以使用这里加载的模型，你也可以同时继续对话。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="123"/>
        <source>API key {key}</source>
        <translation>API 密钥 {key}</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="125"/>
        <source>no API key</source>
        <translation>无 API 密钥</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="127"/>
        <source>On for other computers too ({key}).</source>
        <translation>已开启，其他电脑也可访问（{key}）。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="129"/>
        <source>On for apps on this computer ({key}).</source>
        <translation>已开启，供本机应用使用（{key}）。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="131"/>
        <source>No model is loaded: requests get 503 until one is.</source>
        <translation>尚未加载模型：加载之前，请求将返回 503。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="133"/>
        <source>The chats use a remote server now: load a model on this computer to serve it (until then requests get 503).</source>
        <translation>对话目前使用远程服务器：请在本机加载模型以提供服务（在此之前，请求将返回 503）。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="136"/>
        <source>Serving &lt;b&gt;{model}&lt;/b&gt;.</source>
        <translation>正在提供 &lt;b&gt;{model}&lt;/b&gt;。</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="138"/>
        <source>{on} {served}</source>
        <translation>{on}{served}</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="147"/>
        <source>Copied the server&apos;s URL</source>
        <translation>已复制服务器地址</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="157"/>
        <source>left</source>
        <translation>已断开</translation>
    </message>
    <message>
        <location filename="../../app/server_page.py" line="159"/>
        <source>{status} (stream)</source>
        <translation>{status}（流式）</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <location filename="../../app/settings_page.py" line="37"/>
        <source>A Hugging Face mirror, e.g. https://hf-mirror.com; empty for the Hub itself (or HF_ENDPOINT)</source>
        <translation>Hugging Face 镜像，例如 https://hf-mirror.com；留空则使用 Hub 本身（或 HF_ENDPOINT）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="41"/>
        <source>the Hugging Face cache (default)</source>
        <translation>Hugging Face 缓存（默认）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="43"/>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="50"/>
        <source>Add…</source>
        <translation>添加…</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="51"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="57"/>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="57"/>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="57"/>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="63"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="65"/>
        <source>Hub endpoint (mirror):</source>
        <translation>Hub 地址（镜像）：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="66"/>
        <source>Download folder:</source>
        <translation>下载文件夹：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="67"/>
        <source>Model folders:</source>
        <translation>模型文件夹：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="69"/>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="71"/>
        <source>Theme:</source>
        <translation>主题：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="72"/>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="74"/>
        <source>Hardware</source>
        <translation>硬件</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="103"/>
        <source>Download models to</source>
        <translation>将模型下载到</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="117"/>
        <source>System ({language})</source>
        <translation>跟随系统（{language}）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="132"/>
        <location filename="../../app/settings_page.py" line="135"/>
        <source>Restart RWKV Desktop to use the new language.</source>
        <translation>重启 RWKV Desktop 后即可使用新语言。</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="144"/>
        <source>{size} GiB RAM</source>
        <translation>{size} GiB 内存</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="145"/>
        <source>{size} GiB VRAM</source>
        <translation>{size} GiB 显存</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="147"/>
        <source> ({size} GiB free)</source>
        <translation>（可用 {size} GiB）</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="148"/>
        <source>, {n} cores</source>
        <translation>，{n} 核</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="149"/>
        <source>, {flags}</source>
        <translation>，{flags}</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="150"/>
        <source>&lt;b&gt;{kind}&lt;/b&gt; {name}{cores}, {memory}{features}; precisions {precisions}</source>
        <translation>&lt;b&gt;{kind}&lt;/b&gt; {name}{cores}，{memory}{features}；精度 {precisions}</translation>
    </message>
    <message>
        <location filename="../../app/settings_page.py" line="153"/>
        <source>No devices were detected.</source>
        <translation>未检测到任何设备。</translation>
    </message>
</context>
</TS>
